package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

func (m *Main) runState(_ context.Context, args []string) error {
	sub, cfg, err := m.subcommand("state", args, [][2]string{
		{"check", "check the state file (ppsync stopped)"},
		{"rebuild", "move a damaged state aside and rebuild it from the inboxes' result files"},
	})
	if err != nil {
		return err
	}
	if sub == "check" {
		return m.stateCheck(cfg)
	}
	return m.stateRebuild(cfg)
}

func (m *Main) stateCheck(cfg *config.Config) error {
	st, err := state.Open(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return fmt.Errorf("ppsync is running and holds %s: stop it first ('ppsync status' works while it runs)", cfg.State.Path)
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	v, _ := st.Schema()
	files, docs := map[string]int{}, map[string]int{}
	batches := 0
	_ = st.View(func(tx *state.Tx) error {
		_ = tx.Files(func(f state.File) error { files[f.State]++; return nil })
		_ = tx.Docs(func(d state.Doc) error { docs[d.State]++; return nil })
		return tx.Batches(func(state.Batch) error { batches++; return nil })
	})
	fmt.Fprintf(m.Stdout, "state %s: consistent, schema %d\n  files: %v\n  documents: %v\n  submissions waiting to be confirmed: %d\n",
		cfg.State.Path, v, files, docs, batches)
	return nil
}

// stateRebuild moves the state aside and records every file that already
// has a result or error file, so nothing finished is submitted again.
func (m *Main) stateRebuild(cfg *config.Config) error {
	path := cfg.State.Path
	if st, err := state.Open(path, 300*time.Millisecond); errors.Is(err, state.ErrLocked) {
		return fmt.Errorf("ppsync is running and holds %s: stop it first", path)
	} else if err == nil {
		st.Close()
	}
	if _, err := os.Stat(path); err == nil {
		aside := fmt.Sprintf("%s.broken-%s", path, time.Now().Format("20060102-150405"))
		if err := os.Rename(path, aside); err != nil {
			return fmt.Errorf("move %s aside: %w", path, err)
		}
		fmt.Fprintf(m.Stdout, "moved the old state to %s\n", aside)
	}
	st, err := state.Open(path, time.Second)
	if err != nil {
		return err
	}
	defer st.Close()
	done, failed := 0, 0
	for _, in := range cfg.Inboxes {
		err := filepath.WalkDir(in.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if p != in.Path && !in.Recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || results.IsOwnOutput(d.Name()) || !watcher.Match(d.Name(), in.Include, in.Exclude) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			rec := state.File{Path: p, Inbox: in.Path, ParserID: in.ParserID, Size: info.Size(), ModTime: info.ModTime().UnixNano(),
				FirstSeen: time.Now(), Updated: time.Now()}
			if r, ok := readResult(p); ok {
				sum, _, err := pdfcheck.HashFile(p)
				if err != nil || sum != r.Source.SHA256 {
					return nil // changed since: the next run processes it
				}
				rec.SHA256, rec.State, rec.Result = sum, state.FileDone, results.ResultPath(p)
				doc := state.Doc{Key: state.DocKey(in.ParserID, sum), ParserID: in.ParserID, SHA256: sum, Size: info.Size(),
					State: state.DocDone, Files: []string{p}, Result: r.Document, Updated: time.Now()}
				done++
				return st.Update(func(tx *state.Tx) error {
					if old, ok, _ := tx.Doc(doc.Key); ok {
						doc.Files = append(old.Files, p)
					}
					return errors.Join(tx.PutDoc(doc), tx.PutFile(rec))
				})
			}
			if b, err := os.ReadFile(results.ErrorPath(p)); err == nil {
				var ef results.ErrorFile
				if json.Unmarshal(b, &ef) == nil && ef.Error.Code != "" {
					sum, _, _ := pdfcheck.HashFile(p)
					if ef.Source.SHA256 != "" && sum != ef.Source.SHA256 {
						return nil
					}
					rec.SHA256, rec.State, rec.Code, rec.Reason, rec.Result = sum, state.FileFailed, ef.Error.Code, ef.Error.Message, results.ErrorPath(p)
					failed++
					return st.Update(func(tx *state.Tx) error { return tx.PutFile(rec) })
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rebuild from inbox %s: %w", in.Path, err)
		}
	}
	fmt.Fprintf(m.Stdout, "rebuilt %s: %d files with results, %d with error files (not resent; 'ppsync retry --failed' sends them again).\n"+
		"Files that were in flight when the old state broke have no result yet and are submitted again at the next start.\n", path, done, failed)
	return nil
}

func readResult(p string) (results.Result, bool) {
	b, err := os.ReadFile(results.ResultPath(p))
	if err != nil {
		return results.Result{}, false
	}
	var r results.Result
	if json.Unmarshal(b, &r) != nil || r.Source.SHA256 == "" {
		return results.Result{}, false
	}
	return r, true
}
