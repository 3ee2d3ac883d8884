//go:build unix

package webui

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// An uploaded file gets what any program's new file gets in the inbox
// (0666 less the umask), not a temp file's 0600.
func TestUploadedFileHasTheUsualMode(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{Upload: Upload{Enabled: true}})
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o002, 0o664}, {0o077, 0o600}} {
		old := syscall.Umask(tc.umask)
		name := "scan-" + tc.want.String() + ".pdf"
		code, ans, body := upload(t, srv.URL, "0", name, []byte("%PDF-1.7\n%%EOF\n"), map[string]string{RequestHeader: "1"})
		syscall.Umask(old)
		if code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, body)
		}
		st, err := os.Stat(ans.Path)
		if err != nil || filepath.Dir(ans.Path) != f.inboxes[0] {
			t.Fatal(err)
		}
		if st.Mode().Perm() != tc.want {
			t.Errorf("umask %03o: mode %v, want %v", tc.umask, st.Mode().Perm(), tc.want)
		}
	}
}
