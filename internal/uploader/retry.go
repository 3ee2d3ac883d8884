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
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	var marked []string
	err := st.Update(func(tx *state.Tx) error {
		var recs []state.File
		if err := tx.Files(func(f state.File) error {
			if want[f.Path] || failed && (f.State == state.FileFailed || f.State == state.FileInvalid) {
				recs = append(recs, f)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, f := range recs {
			if f.State != state.FileFailed && f.State != state.FileInvalid {
				continue // done, queued or in flight: nothing to retry
			}
			if f.SHA256 != "" {
				key := state.DocKey(f.ParserID, f.SHA256)
				if d, ok, err := tx.Doc(key); err != nil {
					return err
				} else if ok && d.State == state.DocFailed {
					d.Retry, d.Updated = true, time.Now()
					if err := tx.PutDoc(d); err != nil {
						return err
					}
				}
			}
			if err := tx.DeleteFile(f.Path); err != nil {
				return err
			}
			marked = append(marked, f.Path)
		}
		return nil
	})
	sort.Strings(marked)
	return marked, err
}
