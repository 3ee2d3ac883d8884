// Package rebuild recreates a lost or damaged state file from what is on
// disk: every file of an inbox that has a result file (or an error file)
// matching its contents, beside it or in the inbox's results_dir, is
// recorded as done (or failed), so nothing
// finished is submitted again. It finds the files with the watcher's own
// walker, so it sees exactly the files the daemon would.
package rebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/outpath"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// Result says what a rebuild did.
type Result struct {
	// Aside is where the old state file was moved ("" when there was none).
	Aside string
	// Done and Failed count the files recorded with a result or error file.
	Done, Failed int
	// Unreadable lists paths below the inboxes that could not be read.
	Unreadable []string
}

// ErrRunning means a running ppsync holds the state file.
var ErrRunning = errors.New("ppsync is running")

// Run moves cfg's state file aside (when it exists) and rebuilds it from
// the inboxes' result and error files. now names the moved file.
func Run(ctx context.Context, cfg *config.Config, now time.Time) (Result, error) {
	path := cfg.State.Path
	var res Result
	if _, err := os.Stat(path); err == nil {
		st, err := state.Open(path, 300*time.Millisecond)
		if errors.Is(err, state.ErrLocked) {
			return res, fmt.Errorf("rebuild %s: %w and holds it: stop it first", path, ErrRunning)
		}
		if err == nil {
			st.Close()
		}
		res.Aside = fmt.Sprintf("%s.broken-%s", path, now.Format("20060102-150405"))
		if err := os.Rename(path, res.Aside); err != nil {
			return res, fmt.Errorf("rebuild: move %s aside: %w", path, err)
		}
	}
	st, err := state.Open(path, time.Second)
	if err != nil {
		return res, fmt.Errorf("rebuild: %w", err)
	}
	defer st.Close()
	for _, in := range cfg.Inboxes {
		err := watcher.Walk(ctx, stageopts.Watcher(in), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				res.Unreadable = append(res.Unreadable, p)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				res.Unreadable = append(res.Unreadable, p)
				return nil
			}
			kind, err := record(st, in, p, info, now)
			switch kind {
			case state.FileDone:
				res.Done++
			case state.FileFailed:
				res.Failed++
			}
			return err
		})
		if err != nil {
			return res, fmt.Errorf("rebuild from inbox %s: %w", in.Path, err)
		}
	}
	return res, nil
}

// record stores p as done or failed when its result or error file belongs
// to its current contents, and returns the state it recorded ("" if none).
func record(st *state.Store, in config.Inbox, p string, info fs.FileInfo, now time.Time) (state.FileState, error) {
	rec := state.File{Path: p, Inbox: in.Path, ParserID: in.ParserID, Size: info.Size(), ModTime: info.ModTime().UnixNano(),
		FirstSeen: now, Updated: now}
	base := outpath.ResultsPath(in.Path, in.ResultsDir, p) // outputs beside p, or in results_dir
	// Only outputs ppsync wrote count: never one read through a link, a
	// hard link, or a file that is not the output of p.
	own := results.Own{Roots: results.RootsOf(in.Path, in.ResultsDir, in.ProcessedDir, in.FailedDir)}
	if r, ok := readResult(own, results.ResultPath(base), p); ok {
		sum, _, err := pdfcheck.HashFile(p)
		if err != nil || sum != r.Source.SHA256 {
			return "", nil // changed since: the next run processes it
		}
		rec.SHA256, rec.State, rec.Result = sum, state.FileDone, results.ResultPath(base)
		// The result stays in its file (a later file with the same content
		// reads it there); the ids let the API be asked again should it go.
		var ids struct {
			ExtractionID string `json:"extraction_id"`
			DocumentID   string `json:"document_id"`
		}
		_ = json.Unmarshal(r.Document, &ids)
		doc := state.Doc{Key: state.DocKey(in.ParserID, sum), ParserID: in.ParserID, SHA256: sum, Size: info.Size(),
			State: state.DocDone, Files: []string{p}, ExtractionID: ids.ExtractionID, DocumentID: ids.DocumentID, Updated: now}
		return state.FileDone, st.Update(func(tx *state.Tx) error {
			if old, ok, _ := tx.Doc(doc.Key); ok {
				doc.First = old.First // p is attached besides the files before it
			}
			return errors.Join(tx.RestoreDoc(doc), tx.RestoreFile(rec))
		})
	}
	out, err := own.Read(results.ErrorPath(base), p)
	if err != nil || out.Error == nil {
		return "", nil
	}
	ef := *out.Error
	sum, _, _ := pdfcheck.HashFile(p)
	if ef.Source.SHA256 != "" && sum != ef.Source.SHA256 {
		return "", nil
	}
	rec.SHA256, rec.State, rec.Code, rec.Reason, rec.Result = sum, state.FileFailed, ef.Error.Code, ef.Error.Message, results.ErrorPath(base)
	return state.FileFailed, st.Update(func(tx *state.Tx) error { return tx.RestoreFile(rec) })
}

func readResult(own results.Own, out, source string) (results.Result, bool) {
	o, err := own.Read(out, source)
	if err != nil || o.Result == nil || o.Result.Source.SHA256 == "" {
		return results.Result{}, false
	}
	return *o.Result, true
}
