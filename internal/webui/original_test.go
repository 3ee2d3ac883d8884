package webui

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
)

// samplePDF is a real one-page invoice.
func samplePDF(t testing.TB) []byte {
	t.Helper()
	b, err := samples.Generate(1, 7, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samplePNG(t testing.TB) []byte {
	t.Helper()
	b, err := samples.ReceiptPNG(samples.GenerateReceipt(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putFile writes b at p (making its folder).
func putFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// moved records that after = "move" took the tracked file path to dst.
func (f *fixture) moved(t testing.TB, path, dst string) {
	t.Helper()
	err := f.st.Update(func(tx *state.Tx) error {
		rec, ok, err := tx.File(path)
		if err != nil || !ok {
			t.Fatalf("%s not tracked: %v", path, err)
		}
		rec.MovedTo = dst
		return tx.SeedFile(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

// TestOriginalEndpoint: /ui/api/original serves a tracked file's original
// from its inbox (or where after = "move" took it) with the type its
// content has, inline, nosniff and under a policy that runs no script; a
// link, an untracked path, a file outside the inbox's folders is refused.
func TestOriginalEndpoint(t *testing.T) {
	pdf, png := samplePDF(t), samplePNG(t)
	secret := []byte("%PDF-1.7 the state file, the API key\n%%EOF")
	tests := []struct {
		name string
		// setup records and writes what the case needs and returns the
		// path asked for.
		setup    func(t *testing.T, f *fixture, base string) string
		status   int
		ctype    string
		disp     string // the start of Content-Disposition
		body     []byte // nil: not checked
		noScript bool
	}{
		{"a PDF in its inbox", func(t *testing.T, f *fixture, _ string) string {
			p := f.add(t, 0, "acme march.pdf", "done", 1, time.Now())
			putFile(t, p, pdf)
			return p
		}, 200, "application/pdf", `inline; filename="acme march.pdf"`, pdf, true},
		{"a photo in a subfolder", func(t *testing.T, f *fixture, _ string) string {
			p := f.add(t, 1, filepath.Join("2026", "receipt.png"), "failed", 1, time.Now())
			putFile(t, p, png)
			return p
		}, 200, "image/png", `inline; filename="receipt.png"`, png, true},
		{"a failed file is shown too", func(t *testing.T, f *fixture, _ string) string {
			p := f.add(t, 0, "blurry.pdf", "failed", 1, time.Now())
			putFile(t, p, pdf)
			return p
		}, 200, "application/pdf", "inline;", pdf, true},
		{"an HTML page named .pdf is never HTML", func(t *testing.T, f *fixture, _ string) string {
			p := f.add(t, 0, "trap.pdf", "invalid", 0, time.Now())
			putFile(t, p, []byte("<!doctype html><script>alert(document.cookie)</script>"))
			return p
		}, 200, "application/octet-stream", `attachment; filename="trap.pdf"`, nil, true},
		{"moved to processed_dir", func(t *testing.T, f *fixture, base string) string {
			p := f.add(t, 0, "moved.pdf", "done", 1, time.Now())
			dst := filepath.Join(f.cfg.Inboxes[0].ProcessedDir, "moved.pdf")
			putFile(t, dst, pdf)
			f.moved(t, p, dst)
			return p
		}, 200, "application/pdf", "inline;", pdf, true},
		{"a symlinked original", func(t *testing.T, f *fixture, base string) string {
			p := f.add(t, 0, "linked.pdf", "done", 1, time.Now())
			symlink(t, filepath.Join(base, "secret.pdf"), p)
			return p
		}, 403, "application/json", "", nil, false},
		{"a symlinked folder on the way", func(t *testing.T, f *fixture, base string) string {
			p := f.add(t, 0, filepath.Join("sub", "secret.pdf"), "failed", 1, time.Now())
			symlink(t, base, filepath.Join(f.inboxes[0], "sub"))
			return p
		}, 403, "application/json", "", nil, false},
		{"moved, but recorded outside processed_dir", func(t *testing.T, f *fixture, base string) string {
			p := f.add(t, 0, "elsewhere.pdf", "done", 1, time.Now())
			f.moved(t, p, filepath.Join(base, "secret.pdf"))
			return p
		}, 404, "application/json", "", nil, false},
		{"a path not tracked", func(t *testing.T, f *fixture, _ string) string {
			p := filepath.Join(f.inboxes[0], "untracked.pdf")
			putFile(t, p, pdf)
			return p
		}, 404, "application/json", "", nil, false},
		{"a path outside every inbox", func(t *testing.T, f *fixture, base string) string {
			return filepath.Join(base, "secret.pdf")
		}, 404, "application/json", "", nil, false},
		{"tracked but deleted", func(t *testing.T, f *fixture, _ string) string {
			return f.add(t, 0, "gone.pdf", "done", 1, time.Now())
		}, 404, "application/json", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			base := filepath.Dir(f.inboxes[0])
			f.cfg.Inboxes[0].ProcessedDir = filepath.Join(base, "processed")
			putFile(t, filepath.Join(base, "secret.pdf"), secret)
			p := tt.setup(t, f, base)
			srv := f.server(t, Options{})
			r := fetch(t, srv.URL+"/ui/api/original?path="+url.QueryEscape(p), nil)
			if !servedAsAsked(t, r, tt.status, tt.ctype, tt.disp) {
				return
			}
			if tt.body != nil && !bytes.Equal([]byte(r.body), tt.body) {
				t.Errorf("body is %d bytes, not the file's %d", len(r.body), len(tt.body))
			}
			if r.hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", r.hdr.Get("X-Content-Type-Options"))
			}
			csp := r.hdr.Get("Content-Security-Policy")
			if tt.noScript && !strings.Contains(csp, "sandbox") && !strings.Contains(csp, "script-src 'none'") {
				t.Errorf("Content-Security-Policy %q lets a script run", csp)
			}
			if tt.ctype != "application/pdf" && !strings.HasPrefix(csp, "sandbox") {
				t.Errorf("Content-Security-Policy %q: anything but a PDF is sandboxed", csp)
			}
			if !strings.Contains(csp, "frame-ancestors 'self'") || r.hdr.Get("X-Frame-Options") != "SAMEORIGIN" {
				t.Errorf("CSP %q, X-Frame-Options %q: the page's own frame must be able to show it, no other", csp, r.hdr.Get("X-Frame-Options"))
			}
		})
	}
}

// TestOriginalInAnInboxNotConfigured: a file the state tracks in an inbox
// the page is not given is not served.
func TestOriginalInAnInboxNotConfigured(t *testing.T) {
	f := newFixture(t)
	p := f.add(t, 1, "receipt.pdf", "done", 1, time.Now())
	putFile(t, p, samplePDF(t))
	srv := f.server(t, Options{Inboxes: f.cfg.Inboxes[:1]})
	if r := fetch(t, srv.URL+"/ui/api/original?path="+url.QueryEscape(p), nil); r.code != 404 {
		t.Fatalf("status %d (%s), want 404", r.code, r.body)
	}
}

// TestLedgerEndpoint: /ui/api/ledger downloads the ledger the config
// names for an inbox, as an attachment of its type, never through a link.
func TestLedgerEndpoint(t *testing.T) {
	csvBody := []byte("\ufefffile,folder,vendor_name\r\na.pdf,,Acme Corp\r\n")
	xlsxBody := []byte("PK\x03\x04 not really a workbook")
	tests := []struct {
		name   string
		setup  func(t *testing.T, f *fixture, base string) string // returns the inbox asked for
		status int
		ctype  string
		disp   string
		body   []byte
	}{
		{"a CSV ledger", func(t *testing.T, f *fixture, base string) string {
			f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
			putFile(t, f.cfg.Inboxes[0].Ledger, csvBody)
			return f.inboxes[0]
		}, 200, "text/csv; charset=utf-8", `attachment; filename="invoices.csv"`, csvBody},
		{"an Excel ledger in results_dir", func(t *testing.T, f *fixture, base string) string {
			f.cfg.Inboxes[1].Ledger = filepath.Join(base, "results", "receipts.xlsx")
			putFile(t, f.cfg.Inboxes[1].Ledger, xlsxBody)
			return f.inboxes[1]
		}, 200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", `attachment; filename="receipts.xlsx"`, xlsxBody},
		{"a symlinked ledger", func(t *testing.T, f *fixture, base string) string {
			f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
			symlink(t, filepath.Join(base, "secret.csv"), f.cfg.Inboxes[0].Ledger)
			return f.inboxes[0]
		}, 403, "application/json", "", nil},
		{"not written yet", func(t *testing.T, f *fixture, base string) string {
			f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
			return f.inboxes[0]
		}, 404, "application/json", "", nil},
		{"an inbox without a ledger", func(t *testing.T, f *fixture, base string) string {
			putFile(t, filepath.Join(f.inboxes[0], "invoices.csv"), csvBody)
			return f.inboxes[0]
		}, 404, "application/json", "", nil},
		{"not an inbox", func(t *testing.T, f *fixture, base string) string {
			return base
		}, 404, "application/json", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			base := filepath.Dir(f.inboxes[0])
			putFile(t, filepath.Join(base, "secret.csv"), []byte("API key"))
			inbox := tt.setup(t, f, base)
			srv := f.server(t, Options{})
			r := fetch(t, srv.URL+"/ui/api/ledger?inbox="+url.QueryEscape(inbox), nil)
			if !servedAsAsked(t, r, tt.status, tt.ctype, tt.disp) {
				return
			}
			if !bytes.Equal([]byte(r.body), tt.body) {
				t.Errorf("body %q, want the ledger's %q", r.body, tt.body)
			}
			if r.hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(r.hdr.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("X-Content-Type-Options %q, CSP %q: want nosniff and a sandbox", r.hdr.Get("X-Content-Type-Options"), r.hdr.Get("Content-Security-Policy"))
			}
			// The list of ledgers names it, with this URL.
			var ls []LedgerInfo
			if code := getJSON(t, srv.URL, "/ui/api/ledgers", &ls); code != 200 {
				t.Fatalf("/ui/api/ledgers: %d", code)
			}
			found := false
			for _, l := range ls {
				if l.Inbox == inbox && l.URL == "/ui/api/ledger?inbox="+url.QueryEscape(inbox) && l.Name == filepath.Base(filepath.FromSlash(strings.Split(tt.disp, `"`)[1])) {
					found = true
				}
			}
			if !found || len(ls) != 1 {
				t.Errorf("/ui/api/ledgers = %+v, want the one ledger of %s", ls, inbox)
			}
		})
	}
}

// TestFileActionsNeedSignIn: the original and the ledger are refused to a
// request without a credential, and served with one.
func TestFileActionsNeedSignIn(t *testing.T) {
	const token = "0123456789abcdef0123"
	f := newFixture(t)
	p := f.add(t, 0, "a.pdf", "done", 1, time.Now())
	pdf := samplePDF(t)
	putFile(t, p, pdf)
	f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
	putFile(t, f.cfg.Inboxes[0].Ledger, []byte("file\r\na.pdf\r\n"))
	srv := httptest.NewServer(Protect(New(Options{Reader: f.reader, Live: f.live, Inboxes: f.cfg.Inboxes}),
		Security{Listen: "127.0.0.1:9847", LocalToken: token}))
	t.Cleanup(srv.Close)
	for _, u := range []string{"/ui/api/original?path=" + url.QueryEscape(p), "/ui/api/ledger?inbox=" + url.QueryEscape(f.inboxes[0]), "/ui/api/ledgers"} {
		if r := fetch(t, srv.URL+u, nil); r.code != http.StatusUnauthorized || strings.Contains(r.body, "a.pdf") || strings.HasPrefix(r.body, "%PDF") {
			t.Errorf("GET %s signed out: %d %q, want 401 and nothing of the file", u, r.code, r.body[:min(len(r.body), 80)])
		}
		if r := fetch(t, srv.URL+u, map[string]string{"Authorization": "Bearer " + token}); r.code != 200 {
			t.Errorf("GET %s with the token: %d %q, want 200", u, r.code, r.body)
		}
	}
}

// servedAsAsked checks a download's status, type and disposition, and that
// the secret a link pointed at was not served; it says whether the answer
// was a 200 whose body is worth checking.
func servedAsAsked(t *testing.T, r fetched, status int, ctype, disp string) bool {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d (%s), want %d", r.code, r.body, status)
	}
	if ct := r.hdr.Get("Content-Type"); ct != ctype {
		t.Errorf("Content-Type %q, want %q", ct, ctype)
	}
	if strings.Contains(r.body, "API key") {
		t.Errorf("the secret behind the link was served: %q", r.body)
	}
	if status != 200 {
		return false
	}
	if d := r.hdr.Get("Content-Disposition"); !strings.HasPrefix(d, disp) {
		t.Errorf("Content-Disposition %q, want it to start %q", d, disp)
	}
	return true
}
