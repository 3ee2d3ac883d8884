package winpath

import "testing"

func TestOdd(t *testing.T) {
	for _, c := range []struct {
		p    string
		want bool
	}{
		{`C:\inbox\a.pdf`, false},
		{`C:\inbox\ACME Inc.\a.pdf`, true},
		{`C:\inbox\Trailing space \a.pdf`, true},
		{`C:\inbox\a.pdf.`, true},
		{`C:\inbox\a.pdf `, true},
		{`\\server\scans\Smith & Co.`, true},
		{`\\server\scans\invoices\`, false},
		{`C:\inbox\.\..\a.pdf`, false},
		{`/srv/inbox/ACME Inc./a.pdf`, true},
		{`C:\inbox\...\a.pdf`, true},
		{``, false},
	} {
		if got := odd(c.p); got != c.want {
			t.Errorf("odd(%q) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestExtendedAndPlain(t *testing.T) {
	for _, c := range []struct{ p, ext string }{
		{`C:\inbox\ACME Inc.\a.pdf`, `\\?\C:\inbox\ACME Inc.\a.pdf`},
		{`c:\x `, `\\?\c:\x `},
		{`\\server\scans\ACME Inc.\a.pdf`, `\\?\UNC\server\scans\ACME Inc.\a.pdf`},
		{`\\?\C:\already.`, `\\?\C:\already.`},
		{`\\.\pipe\x.`, `\\.\pipe\x.`},
		{`relative\x.`, `relative\x.`},
		{`C:relative.`, `C:relative.`},
	} {
		got := extended(c.p)
		if got != c.ext {
			t.Errorf("extended(%q) = %q, want %q", c.p, got, c.ext)
		}
		if back := plain(got); back != c.p && c.p != `\\?\C:\already.` {
			t.Errorf("plain(%q) = %q, want %q", got, back, c.p)
		}
	}
	// \\?\ paths that are not a drive or UNC path stay as they are.
	if got := plain(`\\?\Volume{0}\x`); got != `\\?\Volume{0}\x` {
		t.Errorf("plain of a volume path: %q", got)
	}
}
