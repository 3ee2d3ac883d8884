package reconcile_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/reconcile"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/statetest"
)

// scanSummary and scanKnown are the figures as they were computed from
// every file record before the tally; Summarize and Known must agree.
func scanSummary(t *testing.T, st *state.Store, paths []string) reconcile.Summary {
	t.Helper()
	inboxes := map[string]bool{}
	for _, in := range paths {
		inboxes[in] = true
	}
	var s reconcile.Summary
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
	inboxes := []string{"/a", "/b", "/empty"}
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	var files []state.File
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
			files = append(files, f)
		}
	}
	st := statetest.Open(t, files...)
	got, err := reconcile.Summarize(st, inboxes)
	if err != nil {
		t.Fatal(err)
	}
	want := scanSummary(t, st, inboxes)
	if want.Done != 4 || want.Failed != 4 || want.Waiting != 4 || len(want.Problems) != 10 {
		t.Fatalf("the full scan sees %+v", want)
	}
	if got.Done != want.Done || got.Failed != want.Failed || got.Invalid != want.Invalid || got.Gone != want.Gone || got.Waiting != want.Waiting ||
		!slices.Equal(got.Problems, want.Problems) {
		t.Errorf("summary\n%+v\nwant\n%+v", got, want)
	}

	known, err := reconcile.Known(st, inboxes)
	if err != nil {
		t.Fatal(err)
	}
	all := scanKnown(t, st)
	for _, in := range inboxes {
		if known[in] != all[in] {
			t.Errorf("known files of %s: %d, want %d", in, known[in], all[in])
		}
	}
	if all["/a"] != 6 {
		t.Fatalf("the full scan knows %d files of /a, want 6", all["/a"])
	}
}

// Missing marks a queued or duplicate file that is no longer on disk as
// gone, and nothing else: not a file still there, not one of an inbox that
// cannot be reached now, not one that already has its outcome.
func TestMissingMarksOnlyFilesDeletedFromAReachableInbox(t *testing.T) {
	dir := t.TempDir()
	here, away := filepath.Join(dir, "here"), filepath.Join(dir, "away")
	cases := []struct {
		name    string
		inbox   string
		state   state.FileState
		onDisk  bool
		want    state.FileState
		wantWhy string
	}{
		{"queued, still there", here, state.FileQueued, true, state.FileQueued, ""},
		{"queued, deleted", here, state.FileQueued, false, state.FileGone, reconcile.GoneReason},
		{"duplicate, deleted", here, state.FileDuplicate, false, state.FileGone, reconcile.GoneReason},
		{"failed, deleted", here, state.FileFailed, false, state.FileFailed, ""},
		{"queued, inbox unreachable", away, state.FileQueued, false, state.FileQueued, ""},
	}
	path := func(i int) string { return filepath.Join(cases[i].inbox, fmt.Sprintf("f%d.pdf", i)) }
	var files []state.File
	for i, c := range cases {
		if c.onDisk {
			write(t, path(i))
		}
		files = append(files, state.File{Path: path(i), Inbox: c.inbox, State: c.state})
	}
	st := statetest.Open(t, files...)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := reconcile.Missing(st, func(inbox string) bool { return inbox == here }, log); err != nil {
		t.Fatal(err)
	}
	if err := st.View(func(tx *state.Tx) error {
		for i, c := range cases {
			f, ok, err := tx.File(path(i))
			if err != nil || !ok {
				t.Fatalf("%s: record %v, %v", c.name, ok, err)
			}
			if f.State != c.want || f.Reason != c.wantWhy {
				t.Errorf("%s: %s (%q), want %s (%q)", c.name, f.State, f.Reason, c.want, c.wantWhy)
			}
			if logged := strings.Contains(logs.String(), path(i)); logged != (c.want == state.FileGone) {
				t.Errorf("%s: logged %v:\n%s", c.name, logged, logs.String())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := reconcile.Known(st, []string{here}); err != nil || n[here] != 2 {
		t.Errorf("files known in %s after the deleted ones are gone: %d (%v), want 2", here, n[here], err)
	}
}

// write makes the file p (and its folder) with a few bytes.
func write(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("%PDF-1.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
