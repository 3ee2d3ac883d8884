package store

import (
	"github.com/ppsync/ppsync/internal/control/store/storetest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/state"
)

// fixture is a real state file with two inboxes and the Files over it.
type fixture struct {
	st      *state.Store
	cfg     *config.Config
	reader  *Files
	inboxes []string
}

func newFixture(t testing.TB) *fixture {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{State: config.State{Path: filepath.Join(dir, "state.db")}}
	var paths []string
	for _, name := range []string{"invoices", "receipts"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.Inboxes = append(cfg.Inboxes, config.Inbox{Path: p, ParserID: "prs_" + name})
		paths = append(paths, p)
	}
	return &fixture{st: st, cfg: cfg, reader: NewFiles(st, cfg.Inboxes), inboxes: paths}
}

// add records a file in inbox i in the given file state (see
// storetest.AddFile).
func (f *fixture) add(tb testing.TB, i int, name, st string, pages int, at time.Time) string {
	tb.Helper()
	return storetest.AddFile(tb, f.st, f.inboxes[i], f.cfg.Inboxes[i].ParserID, name, st, pages, at)
}
