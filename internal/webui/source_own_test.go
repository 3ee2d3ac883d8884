package webui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// A finished file's result replaced by a link (or a hard link) to a secret
// outside the inbox, or reached through a symlinked folder: neither the
// file page nor the raw-result API serves the secret; both say the result
// is missing.
func TestResultReplacedByALinkIsNeverServed(t *testing.T) {
	const secret = "PP_API_KEY=pp_live_secret_0123"
	for _, tc := range []struct {
		name string
		// plant replaces the result of file (recorded in the state) and
		// returns the path to ask for.
		plant func(t *testing.T, f *fixture, file, private string) string
	}{
		{"symlink to a secret outside the inbox", func(t *testing.T, f *fixture, file, private string) string {
			mustRemove(t, file+".json")
			mustSymlink(t, filepath.Join(private, "secret.json"), file+".json")
			return file
		}},
		{"symlink to the environment", func(t *testing.T, f *fixture, file, private string) string {
			if _, err := os.Stat("/proc/self/environ"); err != nil {
				t.Skip("no /proc")
			}
			mustRemove(t, file+".json")
			mustSymlink(t, "/proc/self/environ", file+".json")
			return file
		}},
		{"hard link to a secret outside the inbox", func(t *testing.T, f *fixture, file, private string) string {
			mustRemove(t, file+".json")
			if err := os.Link(filepath.Join(private, "secret.json"), file+".json"); err != nil {
				t.Skipf("hard links unavailable: %v", err)
			}
			return file
		}},
		{"symlinked folder", func(t *testing.T, f *fixture, file, private string) string {
			// A file recorded in inbox/sub, where sub is now a link to the
			// private folder, which holds a result named like it.
			sub := filepath.Join(f.inboxes[0], "sub")
			mustSymlink(t, private, sub)
			linked := filepath.Join(sub, "secret")
			err := f.st.Update(func(tx *state.Tx) error {
				rec, _, err := tx.File(file)
				if err != nil {
					return err
				}
				rec.Path, rec.Result = linked, linked+".json"
				return tx.SeedFile(rec)
			})
			if err != nil {
				t.Fatal(err)
			}
			return linked
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			t.Setenv("PP_API_KEY", "pp_live_secret_0123") // read back by the environ case
			file := f.add(t, 0, "mine.pdf", "done", 2, time.Now())
			private := filepath.Join(filepath.Dir(f.inboxes[0]), "private")
			if err := os.MkdirAll(private, 0o700); err != nil {
				t.Fatal(err)
			}
			// The secret is shaped like a result of the very file asked
			// for, so only how it is reached can refuse it.
			doc := json.RawMessage(`{"document_id":"doc_1","status":"completed","extracted_data":{"key":"` + secret + `"}}`)
			src := file
			if tc.name == "symlinked folder" {
				src = filepath.Join(f.inboxes[0], "sub", "secret")
			}
			if err := results.WriteResultAt(filepath.Join(private, "secret.json"), doc, results.Source{Path: src, SHA256: "x"}, ""); err != nil {
				t.Fatal(err)
			}
			ask := tc.plant(t, f, file, private)
			srv := f.server(t, Options{})

			resp, err := http.Get(srv.URL + "/ui/api/raw?path=" + url.QueryEscape(ask))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), secret) || resp.StatusCode != http.StatusNotFound {
				t.Errorf("raw result: %d %s, want 404 without the secret", resp.StatusCode, body)
			}
			resp, err = http.Get(srv.URL + "/ui/api/file?path=" + url.QueryEscape(ask))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), secret) || resp.StatusCode != http.StatusOK {
				t.Errorf("file page: %d %s, want the page without the secret", resp.StatusCode, body)
			}
			var fd FileDetail
			if err := json.Unmarshal(body, &fd); err != nil || fd.Document != nil || !strings.Contains(fd.ResultNote, "no longer on disk") {
				t.Errorf("file page: document %s note %q, want the result reported missing", fd.Document, fd.ResultNote)
			}
		})
	}
}

func mustRemove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}
