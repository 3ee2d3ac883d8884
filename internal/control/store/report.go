package store

import (
	"hash/maphash"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// finalState names a final file state as the report counts it.
func finalState(fs state.FileState) (string, bool) {
	switch fs {
	case state.FileDone:
		return report.Done, true
	case state.FileFailed:
		return report.Failed, true
	case state.FileInvalid:
		return report.Invalid, true
	case state.FileGone:
		return report.Gone, true
	}
	return "", false
}

// Report counts the files of cfg's inboxes in the state. waitingCredits
// tells whether queued files are held back by the balance (known live only).
// A nil st is a state file not created yet: every count is zero.
func Report(st *state.Store, cfg *config.Config, waitingCredits bool) (report.Report, error) {
	return fromStore(st, cfg, waitingCredits, walkOpen)
}

// Progress is Report with only the open files' total: each inbox's files
// still on their way are counted as in flight, in one pass in order over
// the index of open files (state.Tx.CountOpenFiles), where Report looks up
// every open file's document, scattered over the state, and keeps a set of
// the queued ones. run --once's progress line asks every 10 s (every
// 500 ms on a terminal); in a backlog of 100,000 files Report's walk was a
// fifth of the daemon's page faults. The rest (finished files, last errors)
// is read as Report reads it.
func Progress(st *state.Store, cfg *config.Config) (report.Report, error) {
	return fromStore(st, cfg, false, countOpen)
}

// openStep counts the files on their way into r (idx: the inboxes' places
// in r by path).
type openStep func(tx *state.Tx, r *report.Report, idx map[string]int) error

func fromStore(st *state.Store, cfg *config.Config, waitingCredits bool, open openStep) (report.Report, error) {
	r := report.Report{WaitingForCredits: waitingCredits, State: report.StateInfo{Path: cfg.State.Path}}
	if st != nil {
		r.State.Path = st.Path()
		r.State.Schema, _ = st.Schema()
	}
	idx := map[string]int{}
	for i, in := range cfg.Inboxes {
		idx[in.Path] = i
		files := map[string]int{}
		for _, s := range report.States {
			files[s] = 0
		}
		r.Inboxes = append(r.Inboxes, report.Inbox{Path: in.Path, ParserID: in.ParserID, Watch: in.Watch, Files: files, LastErrors: []report.FileError{}})
	}
	if st == nil {
		return r, nil
	}
	// Finished files are counted from the tally and the last errors read
	// from their index; only the files still on their way are read. The
	// cost follows the open files, not every file ever seen.
	err := st.View(func(tx *state.Tx) error {
		for path, i := range idx {
			in := &r.Inboxes[i]
			if err := countFinished(tx, path, in); err != nil {
				return err
			}
			if err := tx.RecentErrors(path, report.MaxErrors, func(f state.File) error {
				s, _ := finalState(f.State)
				in.LastErrors = append(in.LastErrors, report.FileError{Path: f.Path, State: s, Code: f.Code, Reason: f.Reason, At: f.Updated})
				return nil
			}); err != nil {
				return err
			}
		}
		return open(tx, &r, idx)
	})
	return r, err
}

// countOpen counts each inbox's open files as in flight.
func countOpen(tx *state.Tx, r *report.Report, idx map[string]int) error {
	open, err := tx.CountOpenFiles()
	if err != nil {
		return err
	}
	for path, i := range idx {
		r.Inboxes[i].Files[report.InFlight] += open[path]
	}
	return nil
}

// walkOpen reads each open file with its document: queued (or waiting for
// credits) or in flight, and the queue depth.
func walkOpen(tx *state.Tx, r *report.Report, idx map[string]int) error {
	// Distinct documents still queued, counted once each however many
	// of their files wait. Only a 64-bit hash of each queued document's
	// key is kept (a collision, about one in 10^9 for 100,000 documents,
	// would count two as one), so a backlog of 100,000 costs about a
	// megabyte here, not a copy of every key.
	seed := maphash.MakeSeed()
	queued := map[uint64]struct{}{}
	return tx.EachOpenFile(func(f state.OpenFile) error {
		i, ok := idx[f.Inbox]
		if !ok {
			return nil
		}
		s := report.InFlight
		if f.DocState == state.DocQueued {
			s = report.Queued
			if r.WaitingForCredits {
				s = report.WaitingCredits
			}
			h := maphash.String(seed, f.DocKey)
			if _, seen := queued[h]; !seen {
				queued[h] = struct{}{}
				r.QueueDepth++
			}
		}
		r.Inboxes[i].Files[s]++
		return nil
	})
}

// countFinished adds the inbox's finished files, from its tally.
func countFinished(tx *state.Tx, inbox string, in *report.Inbox) error {
	t, err := tx.Tally(inbox)
	if err != nil {
		return err
	}
	for fs, n := range t.Files {
		if s, final := finalState(fs); final {
			in.Files[s] += n
		}
	}
	return nil
}
