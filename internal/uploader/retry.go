package uploader

import (
	"sort"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// MarkRetry prepares files to be sent through again: the named paths, or
// with failed every file that failed or was refused. Their records are
// forgotten (so they are inspected afresh) and their failed documents are
// flagged to be resubmitted under a new key. It returns the paths marked.
func MarkRetry(st *state.Store, paths []string, failed bool) ([]string, error) {
	return mark(st, paths, failed, false)
}

// MarkReprocess prepares files to be processed again on purpose, finished
// (done) ones included: their documents are flagged to be sent again under
// the next key generation (Doc.Retries is part of the idempotency key), so
// the API starts a new job instead of answering with the old one, and the
// result already beside the file does not stand in for a new one. Each
// file sent again is charged again. It returns the paths marked; use
// PlanReprocess first to say what that costs.
func MarkReprocess(st *state.Store, paths []string) ([]string, error) {
	return mark(st, paths, false, true)
}

// Plan is what processing files again would send and cost.
type Plan struct {
	Files   []string          // tracked files it applies to, sorted
	Pages   int               // what they cost (1 page = 1 credit)
	Unknown int               // files whose pages were never counted
	Skipped map[string]string // paths left out, with why
}

// PlanReprocess says which of paths MarkReprocess would mark and what
// sending them costs. It changes nothing.
func PlanReprocess(st *state.Store, paths []string) (Plan, error) {
	p := Plan{Files: []string{}, Skipped: map[string]string{}}
	err := st.View(func(tx *state.Tx) error {
		for _, path := range paths {
			f, ok, err := tx.File(path)
			switch {
			case err != nil:
				return err
			case !ok:
				p.Skipped[path] = "not tracked by ppsync (never seen, moved away after processing, or not in an inbox)"
			case !again(f.State, true):
				p.Skipped[path] = "it is still being processed (" + string(f.State) + ")"
			default:
				p.Files = append(p.Files, f.Path)
				if f.Pages > 0 {
					p.Pages += f.Pages
				} else {
					p.Unknown++
				}
			}
		}
		return nil
	})
	sort.Strings(p.Files)
	return p, err
}

// again tells whether a file in state s can be sent through again.
func again(s state.FileState, reprocess bool) bool {
	return s == state.FileFailed || s == state.FileInvalid || reprocess && s == state.FileDone
}

func mark(st *state.Store, paths []string, failed, reprocess bool) ([]string, error) {
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	var marked []string
	err := st.Update(func(tx *state.Tx) error {
		// The files named are looked up, the failed ones read from the
		// state's index of them: never every record.
		var recs []state.File
		for p := range want {
			f, ok, err := tx.File(p)
			if err != nil {
				return err
			}
			if ok {
				recs = append(recs, f)
			}
		}
		if failed {
			if err := tx.FilesWithoutResult(func(f state.File) error {
				if !want[f.Path] && (f.State == state.FileFailed || f.State == state.FileInvalid) {
					recs = append(recs, f)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for _, f := range recs {
			if !again(f.State, reprocess) {
				continue // queued or in flight (or done, for a retry): nothing to do
			}
			if f.SHA256 != "" {
				key := state.DocKey(f.ParserID, f.SHA256)
				if d, ok, err := tx.Doc(key); err != nil {
					return err
				} else if ok && (d.State == state.DocFailed || reprocess && d.State == state.DocDone) {
					d.Retry, d.Updated = true, time.Now()
					if err := tx.AmendDoc(d); err != nil {
						return err
					}
				}
			}
			if err := tx.ForgetFile(f.Path); err != nil {
				return err
			}
			marked = append(marked, f.Path)
		}
		return nil
	})
	sort.Strings(marked)
	return marked, err
}

// sendAgain tells whether the document key was asked to be sent again
// (retry or reprocess): then a result already on disk for the same content
// must not stand in for the new one.
func (u *Uploader) sendAgain(key string) (bool, error) {
	var again bool
	err := u.st.View(func(tx *state.Tx) error {
		d, ok, err := tx.Doc(key)
		again = ok && d.Retry
		return err
	})
	return again, err
}
