package uploader

import (
	"strings"
	"testing"
)

// The upload name is ppsync's choice: a name the API could mangle or
// refuse is replaced by a safe one, unique for each real name.
func TestSendName(t *testing.T) {
	for _, tc := range []struct {
		path, want string // want "" when only checked to be safe and changed
	}{
		{"/in/invoice-1.pdf", "invoice-1.pdf"},
		{"/in/Scan 2026 (copy) [2], v1.pdf", "Scan 2026 (copy) [2], v1.pdf"},
		{"/in/a\nb.pdf", "a_b~"},
		{"/in/a\x01b.pdf", "a_b~"},
		{"/in/tab\there.pdf", "tab_here~"},
		{"/in/Rechnung März.pdf", "Rechnung M_rz~"},
		{"/in/bad\xffbyte.pdf", "bad_byte~"},
		{`/in/say "hi"\or 100%;+&=.pdf`, ""},
		{"/in/ leading.pdf", "leading~"},
		{"/in/\x01", "_~"},
	} {
		got := sendName(tc.path)
		for i := range len(got) {
			if !safeByte(got[i]) {
				t.Errorf("sendName(%q) = %q: byte %q is not safe", tc.path, got, got[i])
			}
		}
		switch {
		case tc.want == "invoice-1.pdf" || !strings.HasSuffix(tc.want, "~") && tc.want != "":
			if got != tc.want {
				t.Errorf("sendName(%q) = %q, want it unchanged", tc.path, got)
			}
		case !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "~"):
			t.Errorf("sendName(%q) = %q, want %q and a hash", tc.path, got, tc.want)
		}
		if strings.HasSuffix(tc.path, ".pdf") && !strings.HasSuffix(got, ".pdf") {
			t.Errorf("sendName(%q) = %q lost its extension", tc.path, got)
		}
	}
	// The examples of docs/uploader-sending.md.
	for path, want := range map[string]string{
		"/in/line\nbreak.pdf":   "line_break~e1c277b5.pdf",
		"/in/ctrl\x01char.pdf":  "ctrl_char~c7195279.pdf",
		"/in/Rechnung März.pdf": "Rechnung M_rz~2acc61e6.pdf",
	} {
		if got := sendName(path); got != want {
			t.Errorf("sendName(%q) = %q, want %q", path, got, want)
		}
	}
	// Two names changed alike stay apart.
	if a, b := sendName("/in/a\x01.pdf"), sendName("/in/a\x02.pdf"); a == b {
		t.Errorf("two names both sent as %q", a)
	}
	if n := fallbackName("/in/a\x01b.PDF"); !strings.HasPrefix(n, "document~") || !strings.HasSuffix(n, ".pdf") {
		t.Errorf("fallback name %q", n)
	}
}
