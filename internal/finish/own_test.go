package finish_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// A result "already on disk" reached through a symlink or a hard link to
// a file outside the inbox does not make a file done: it is sent as any
// new file is, and the link never becomes its recorded result.
func TestAlreadyDoneTrustsOnlyResultsPpsyncWrote(t *testing.T) {
	for name, link := range map[string]func(string, string) error{"symlink": os.Symlink, "hard link": os.Link} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, false)
			inbox := filepath.Join(e.dir, "inbox")
			p := filepath.Join(inbox, "a.pdf")
			if err := os.MkdirAll(inbox, 0o755); err != nil {
				t.Fatal(err)
			}
			sha := strings.Repeat("ab", 32)
			private := filepath.Join(e.dir, "private", "a.pdf.json")
			if err := os.MkdirAll(filepath.Dir(private), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := results.WriteResultAt(private, json.RawMessage(`{"document_id":"doc_secret"}`), results.Source{Path: p, SHA256: sha}, ""); err != nil {
				t.Fatal(err)
			}
			if err := link(private, results.ResultPath(p)); err != nil {
				t.Skipf("%s unavailable: %v", name, err)
			}
			done, err := e.fin.AlreadyDone(state.File{Path: p, Inbox: inbox, SHA256: sha})
			if err != nil || done {
				t.Errorf("AlreadyDone = %v, %v; want false: the result is reached through a %s", done, err, name)
			}
		})
	}
}
