package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/progress"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// Progress counts what Report counts, but every file on its way as in
// flight: the progress line's figures are the same.
func TestProgressCountsWhatReportCounts(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{State: config.State{Path: filepath.Join(dir, "s.db")},
		Inboxes: []config.Inbox{{Path: "/a", ParserID: "p"}, {Path: "/b", ParserID: "p"}, {Path: "/c", ParserID: "p"}}}
	if r, err := store.Progress(nil, cfg); err != nil || len(r.Inboxes) != 3 || r.Inboxes[0].Files[report.InFlight] != 0 {
		t.Fatalf("no state: %+v %v", r, err)
	}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.Update(func(tx *state.Tx) error {
		for _, f := range []state.File{
			{Path: "/a/1.pdf", Inbox: "/a", State: state.FileDone, Updated: now},
			{Path: "/a/2.pdf", Inbox: "/a", State: state.FileFailed, Code: "X", Reason: "r", Updated: now},
			{Path: "/a/3.pdf", Inbox: "/a", ParserID: "p", SHA256: "q", State: state.FileQueued, Updated: now},
			{Path: "/a/3-copy.pdf", Inbox: "/a", ParserID: "p", SHA256: "q", State: state.FileDuplicate, Updated: now},
			{Path: "/b/4.pdf", Inbox: "/b", ParserID: "p", SHA256: "s", State: state.FileQueued, Updated: now},
			{Path: "/b/5.pdf", Inbox: "/b", ParserID: "p", State: state.FileQueued, Updated: now},
			{Path: "/b/6.pdf", Inbox: "/b", State: state.FileGone, Updated: now},
			{Path: "/elsewhere/7.pdf", Inbox: "/elsewhere", ParserID: "p", SHA256: "e", State: state.FileQueued, Updated: now},
		} {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		for _, d := range []state.Doc{
			{Key: state.DocKey("p", "q"), ParserID: "p", SHA256: "q", State: state.DocQueued},
			{Key: state.DocKey("p", "s"), ParserID: "p", SHA256: "s", State: state.DocSubmitted},
		} {
			if err := tx.SeedDoc(d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	full, err := store.Report(st, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := store.Progress(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantOpen := []int{2, 2, 0}
	for i, in := range prog.Inboxes {
		f := full.Inboxes[i]
		for _, s := range []string{report.Done, report.Failed, report.Invalid, report.Gone} {
			if in.Files[s] != f.Files[s] {
				t.Errorf("%s: %d %s, Report says %d", in.Path, in.Files[s], s, f.Files[s])
			}
		}
		open := f.Files[report.Queued] + f.Files[report.InFlight] + f.Files[report.WaitingCredits]
		if in.Files[report.InFlight] != open || open != wantOpen[i] {
			t.Errorf("%s: %d in flight, Report has %d on their way, want %d", in.Path, in.Files[report.InFlight], open, wantOpen[i])
		}
		if in.Files[report.Queued] != 0 {
			t.Errorf("%s: %d queued; Progress counts every open file in flight", in.Path, in.Files[report.Queued])
		}
	}
	fd, ff, ft := progress.Tally(full)
	pd, pf, pt := progress.Tally(prog)
	if fd != pd || ff != pf || ft != pt || pt != 7 {
		t.Errorf("progress tally %d/%d/%d, Report's %d/%d/%d, want a total of 7", pd, pf, pt, fd, ff, ft)
	}
}
