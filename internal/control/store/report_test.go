package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

func TestFromState(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{State: config.State{Path: filepath.Join(dir, "s.db")},
		Inboxes: []config.Inbox{{Path: "/a", ParserID: "p"}, {Path: "/b", ParserID: "p"}}}

	// Not created yet: every count is zero, nothing is opened.
	r, err := store.Report(nil, cfg, false)
	if err != nil || r.State.Path != cfg.State.Path || r.State.Schema != 0 || len(r.Inboxes) != 2 || r.Inboxes[0].Files[report.Done] != 0 {
		t.Fatalf("no state: %+v %v", r, err)
	}

	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	err = st.Update(func(tx *state.Tx) error {
		for _, f := range []state.File{
			{Path: "/a/1.pdf", Inbox: "/a", State: state.FileDone, Updated: now},
			{Path: "/a/2.pdf", Inbox: "/a", State: state.FileFailed, Code: "X", Reason: "older", Updated: now.Add(-time.Hour)},
			{Path: "/a/3.pdf", Inbox: "/a", State: state.FileInvalid, Code: "NOT_A_PDF", Reason: "newer", Updated: now},
			{Path: "/a/4.pdf", Inbox: "/a", ParserID: "p", SHA256: "q", State: state.FileQueued, Updated: now},
			{Path: "/b/5.pdf", Inbox: "/b", ParserID: "p", SHA256: "f", State: state.FileQueued, Updated: now},
			{Path: "/elsewhere/6.pdf", Inbox: "/elsewhere", State: state.FileDone, Updated: now},
		} {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return tx.SeedDoc(state.Doc{Key: state.DocKey("p", "q"), ParserID: "p", SHA256: "q", State: state.DocQueued})
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err = store.Report(st, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	a, b := r.Inboxes[0], r.Inboxes[1]
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"a done", a.Files[report.Done], 1}, {"a failed", a.Files[report.Failed], 1}, {"a refused", a.Files[report.Invalid], 1},
		{"a waiting for credits", a.Files[report.WaitingCredits], 1}, {"b in flight", b.Files[report.InFlight], 1},
		{"queue depth", r.QueueDepth, 1}, {"a errors", len(a.LastErrors), 2}, {"schema", r.State.Schema, state.SchemaVersion},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if a.LastErrors[0].Path != "/a/3.pdf" {
		t.Errorf("last errors not newest first: %+v", a.LastErrors)
	}
}
