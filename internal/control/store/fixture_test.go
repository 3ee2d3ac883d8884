package store

import (
	"github.com/ppsync/ppsync/internal/control/store/storetest"
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
	st, cfg, inboxes := storetest.Open(t)
	return &fixture{st: st, cfg: cfg, reader: NewFiles(st, cfg.Inboxes), inboxes: inboxes}
}

// add records a file in inbox i in the given file state (see
// storetest.AddFile).
func (f *fixture) add(tb testing.TB, i int, name, st string, pages int, at time.Time) string {
	tb.Helper()
	return storetest.AddFile(tb, f.st, f.inboxes[i], f.cfg.Inboxes[i].ParserID, name, st, pages, at)
}
