package daemon

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/state"
)

// scanSummary and scanKnown are the figures as they were computed from
// every file record before the tally; summarize and knownFiles must agree.
func scanSummary(t *testing.T, st *state.Store, cfg *config.Config) Summary {
	t.Helper()
	inboxes := map[string]bool{}
	for _, in := range cfg.Inboxes {
		inboxes[in.Path] = true
	}
	var s Summary
	if err := st.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error {
			if !inboxes[f.Inbox] {
				return nil
			}
			switch f.State {
			case state.FileDone:
				s.Done++
			case state.FileFailed:
				s.Failed++
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s: %s", f.Path, f.Code, f.Reason))
			case state.FileInvalid:
				s.Invalid++
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s: %s", f.Path, f.Code, f.Reason))
			case state.FileGone:
				s.Gone++
			default:
				s.Waiting++
				if f.Reason != "" {
					s.Problems = append(s.Problems, fmt.Sprintf("%s: still waiting (%s): %s: %s", f.Path, f.State, f.Code, f.Reason))
				} else {
					s.Problems = append(s.Problems, fmt.Sprintf("%s: still waiting (%s)", f.Path, f.State))
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func scanKnown(t *testing.T, st *state.Store) map[string]int {
	t.Helper()
	n := map[string]int{}
	if err := st.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error {
			if f.State != state.FileGone && f.MovedTo == "" {
				n[f.Inbox]++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSummarizeAndKnownFilesMatchAFullScan(t *testing.T) {
	cfg := &config.Config{State: config.State{Path: filepath.Join(t.TempDir(), "s.db")},
		Inboxes: []config.Inbox{{Path: "/a"}, {Path: "/b"}, {Path: "/empty"}}}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	if err := st.Update(func(tx *state.Tx) error {
		i := 0
		for _, inbox := range []string{"/b", "/a", "/elsewhere"} {
			for _, f := range []state.File{
				{State: state.FileDone},
				{State: state.FileDone, MovedTo: "/moved"},
				{State: state.FileFailed, Code: "EXTRACTION_FAILED", Reason: "unreadable"},
				{State: state.FileInvalid, Code: "NOT_A_PDF", Reason: "no header"},
				{State: state.FileGone, Reason: "deleted"},
				{State: state.FileQueued},
				{State: state.FileDuplicate, Code: "RATE_LIMITED", Reason: "waiting"},
				{State: state.FileFailed, Code: "X", Reason: "older"},
			} {
				i++
				// Paths out of time order, so the problems' path order is tested.
				f.Path, f.Inbox, f.Updated = fmt.Sprintf("%s/%02d.pdf", inbox, (i*7)%24), inbox, t0.Add(time.Duration(i)*time.Minute)
				if err := tx.SeedFile(f); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := summarize(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := scanSummary(t, st, cfg)
	if want.Done != 4 || want.Failed != 4 || want.Waiting != 4 || len(want.Problems) != 10 {
		t.Fatalf("the full scan sees %+v", want)
	}
	if got.Done != want.Done || got.Failed != want.Failed || got.Invalid != want.Invalid || got.Gone != want.Gone || got.Waiting != want.Waiting ||
		!slices.Equal(got.Problems, want.Problems) {
		t.Errorf("summary\n%+v\nwant\n%+v", got, want)
	}

	known, err := knownFiles(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := scanKnown(t, st)
	for _, in := range cfg.Inboxes {
		if known[in.Path] != all[in.Path] {
			t.Errorf("known files of %s: %d, want %d", in.Path, known[in.Path], all[in.Path])
		}
	}
	if all["/a"] != 6 {
		t.Fatalf("the full scan knows %d files of /a, want 6", all["/a"])
	}
}
