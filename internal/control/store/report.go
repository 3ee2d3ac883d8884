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
	// from their index; only the files still on their way are read, with
	// their document (is it queued?). The cost follows the open files, not
	// every file ever seen.
	err := st.View(func(tx *state.Tx) error {
		for path, i := range idx {
			in := &r.Inboxes[i]
			t, err := tx.Tally(path)
			if err != nil {
				return err
			}
			for fs, n := range t.Files {
				if s, final := finalState(fs); final {
					in.Files[s] += n
				}
			}
			if err := tx.RecentErrors(path, report.MaxErrors, func(f state.File) error {
				s, _ := finalState(f.State)
				in.LastErrors = append(in.LastErrors, report.FileError{Path: f.Path, State: s, Code: f.Code, Reason: f.Reason, At: f.Updated})
				return nil
			}); err != nil {
				return err
			}
		}
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
				if waitingCredits {
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
	})
	return r, err
}
