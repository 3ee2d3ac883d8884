// Package reconcile squares the state's records with the inboxes: at
// start, how many files each inbox is known to hold and which recorded
// files were deleted while ppsync was stopped; after a --once run, the
// summary of what each file became.
package reconcile

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Known counts, per inbox, the files the state knows to be in it (neither
// gone nor moved away), from the tally.
func Known(st *state.Store, inboxes []string) (map[string]int, error) {
	n := map[string]int{}
	err := st.View(func(tx *state.Tx) error {
		for _, in := range inboxes {
			t, err := tx.Tally(in)
			if err != nil {
				return err
			}
			known := 0
			for fs, c := range t.Files {
				if fs != state.FileGone {
					known += c - t.Moved[fs]
				}
			}
			n[in] = known
		}
		return nil
	})
	return n, err
}

// GoneReason is the reason recorded for a file deleted while ppsync was
// stopped.
const GoneReason = "deleted from the inbox while ppsync was stopped"

// Missing marks the queued (or duplicate) files that are no longer on disk
// as gone: they were deleted while ppsync was stopped. Only the files of an
// inbox for which reachable says true are looked at: an unreachable share
// is not an empty one.
func Missing(st *state.Store, reachable func(inbox string) bool, log *slog.Logger) error {
	var gone []state.File
	err := st.View(func(tx *state.Tx) error {
		return tx.OpenFiles(func(f state.File) error {
			if f.State != state.FileQueued && f.State != state.FileDuplicate || !reachable(f.Inbox) {
				return nil
			}
			if _, err := os.Lstat(winpath.Sys(f.Path)); errors.Is(err, os.ErrNotExist) {
				gone = append(gone, f)
			}
			return nil
		})
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	return st.Update(func(tx *state.Tx) error {
		for _, f := range gone {
			f.State, f.Reason, f.Updated = state.FileGone, GoneReason, time.Now()
			log.Warn("file deleted while ppsync was stopped", "file", f.Path)
			if err := tx.MarkGone(f); err != nil {
				return err
			}
		}
		return nil
	})
}

// Summary counts the files of the configured inboxes by state after a run.
type Summary struct {
	Done, Failed, Invalid, Gone, Waiting int
	// Unreachable lists the inboxes (or folders in them) that could not be
	// read, with the reason; a --once run also lists there what it left for
	// the next run (the files of an inbox whose results could not be
	// written, a file it could not record).
	Unreachable []string
	// Problems lists files that did not end with a result, with the reason,
	// and everything in Unreachable.
	Problems []string
}

// OK reports that every file ended with a result and every inbox could be read.
func (s Summary) OK() bool { return s.Failed+s.Invalid+s.Waiting+len(s.Unreachable) == 0 }

// Summarize counts the files of inboxes from the tally and lists the
// problems from the index of failed files and the open files, in path
// order. Unreachable is left for the caller, who knows what it could not
// read.
func Summarize(st *state.Store, inboxes []string) (Summary, error) {
	in := map[string]bool{}
	for _, p := range inboxes {
		in[p] = true
	}
	type problem struct{ path, text string }
	var problems []problem
	var s Summary
	err := st.View(func(tx *state.Tx) error {
		for inbox := range in {
			t, err := tx.Tally(inbox)
			if err != nil {
				return err
			}
			s.Done += t.Files[state.FileDone]
			s.Failed += t.Files[state.FileFailed]
			s.Invalid += t.Files[state.FileInvalid]
			s.Gone += t.Files[state.FileGone]
			if err := tx.RecentErrors(inbox, 0, func(f state.File) error {
				if f.State != state.FileGone {
					problems = append(problems, problem{f.Path, fmt.Sprintf("%s: %s: %s", f.Path, f.Code, f.Reason)})
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return tx.OpenFiles(func(f state.File) error {
			if !in[f.Inbox] {
				return nil
			}
			s.Waiting++
			if f.Reason != "" {
				problems = append(problems, problem{f.Path, fmt.Sprintf("%s: still waiting (%s): %s: %s", f.Path, f.State, f.Code, f.Reason)})
			} else {
				problems = append(problems, problem{f.Path, fmt.Sprintf("%s: still waiting (%s)", f.Path, f.State)})
			}
			return nil
		})
	})
	slices.SortFunc(problems, func(a, b problem) int { return strings.Compare(a.path, b.path) })
	for _, p := range problems {
		s.Problems = append(s.Problems, p.text)
	}
	return s, err
}
