package finish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// The state keeps a finished document's result only until every file
// waiting on it has its output written and recorded. A file with the same
// content that comes later gets the result back from a result file already
// written for the document, else from the API (free of charge), else an
// error file with CodeResultUnavailable: the content is never paid for
// again by itself.

// CodeResultUnavailable is the error code of a file whose content was
// processed before when that result is neither in a result file on disk
// nor at the API any more.
const CodeResultUnavailable = "RESULT_UNAVAILABLE"

// ErrResultGone is what Options.Fetch wraps when the API no longer has the
// document (404): asking again cannot help.
var ErrResultGone = errors.New("the API no longer has this document")

// fetchTimeout bounds one request for a dropped result, so a slow or
// paused API does not hold up the other pending writes of Run.
const fetchTimeout = time.Minute

// recall finds the result of a finished document whose stored result was
// dropped: from a result file of one of its files, else (with fetch) from
// the API. It returns the document, or nil with later when the API is to
// be asked later (the file stays pending), or nil alone when the result is
// gone.
func (f *Finisher) recall(ctx context.Context, d state.Doc, fetch bool) (doc json.RawMessage, later bool) {
	if doc := f.recalled.get(d); doc != nil {
		return doc, false
	}
	if doc := f.fromResultFiles(d); doc != nil {
		f.recalled.put(d, doc)
		return doc, false
	}
	if f.o.Fetch == nil || d.ExtractionID == "" || d.DocumentID == "" {
		return nil, false
	}
	if !fetch {
		return nil, true
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	raw, err := f.o.Fetch(ctx, d.ExtractionID, d.DocumentID)
	switch {
	case errors.Is(err, ErrResultGone):
		f.log.Warn("the API no longer has a document processed before", "document_id", d.DocumentID, "extraction_id", d.ExtractionID, "error", err)
		return nil, false
	case err != nil:
		f.log.Warn("cannot ask the API again for the result of content processed before; retrying", "document_id", d.DocumentID, "error", err)
		return nil, true
	}
	var got apitypes.Document
	if err := json.Unmarshal(raw, &got); err != nil {
		f.log.Warn("the API's answer for a document processed before is not a document; retrying", "document_id", d.DocumentID, "error", err)
		return nil, true
	}
	if why := fetchedMismatch(d, got); why != "" {
		f.log.Error("the API's document does not match the content processed before; not used", "document_id", d.DocumentID, "reason", why)
		return nil, false
	}
	f.log.Info("result of the same content fetched from the API again (free of charge)", "document_id", d.DocumentID)
	f.recalled.put(d, raw)
	return raw, false
}

// fetchedMismatch says why a document fetched again cannot stand for d, or "".
func fetchedMismatch(d state.Doc, got apitypes.Document) string {
	switch {
	case got.DocumentID != d.DocumentID:
		return fmt.Sprintf("asked for document %s, got %q", d.DocumentID, got.DocumentID)
	case got.Status != apitypes.StatusCompleted:
		return fmt.Sprintf("document %s is %q, not completed", d.DocumentID, got.Status)
	}
	return check(d, got)
}

// output is where a result of a file may be, and that file.
type output struct {
	path, source string
}

// recallScan is how many files of a document one read of the state lists
// the result files of, while recall looks for one it can read.
const recallScan = 32

// fromResultFiles reads d's result back from a result file of one of its
// files, going through them a few at a time and stopping at the first
// that holds it (usually the first file's own).
func (f *Finisher) fromResultFiles(d state.Doc) json.RawMessage {
	after := ""
	for {
		outs, last, more := f.resultFiles(d, after, recallScan)
		for _, out := range outs {
			if doc := f.resultFor(out, d); doc != nil {
				f.log.Debug("result of the same content read from an earlier result file", "document", d.Key, "from", out.path)
				return doc
			}
		}
		if !more {
			return nil
		}
		after = last
	}
}

// resultFiles lists where a result of up to n of d's files after the file
// after (in path order) may be: the recorded output, where after = "move"
// took it, and where the output of a file no longer tracked would be. It
// returns the last file it read and whether more follow.
func (f *Finisher) resultFiles(d state.Doc, after string, n int) (outs []output, last string, more bool) {
	var file string // the file whose outputs add lists
	add := func(p string) {
		if p != "" && !slices.Contains(outs, output{p, file}) {
			outs = append(outs, output{p, file})
		}
	}
	_ = f.st.View(func(tx *state.Tx) error {
		var paths []string
		if err := tx.DocFilesAfter(d.Key, after, n+1, func(p string) error { paths = append(paths, p); return nil }); err != nil {
			return err
		}
		if more = len(paths) > n; more {
			paths = paths[:n]
		}
		for _, p := range paths {
			file, last = p, p
			rec, ok, err := tx.File(p)
			if err != nil {
				continue // that record is unreadable; the others may do
			}
			if !ok {
				res, _ := f.outputs("", p)
				add(res)
				continue
			}
			if rec.MovedTo != "" {
				add(results.MovedOutput(rec.Path, rec.Result, rec.MovedTo))
			}
			add(rec.Result)
			res, _ := f.outputs(rec.Inbox, rec.Path)
			add(res)
		}
		return nil
	})
	return outs, last, more
}

// resultFor returns the document of the result file at out when ppsync
// wrote that file (read through f.own: never a link or anything else put
// there) and it is a result of d: same content (source.sha256) and, when
// both say, the same document_id. It returns nil otherwise.
func (f *Finisher) resultFor(out output, d state.Doc) json.RawMessage {
	o, err := f.own.Read(out.path, out.source)
	if err != nil || !o.HasDocument() {
		return nil
	}
	r := o.Result
	if r.Source.SHA256 != d.SHA256 {
		return nil
	}
	var id struct {
		DocumentID string `json:"document_id"`
		Status     string `json:"status"`
	}
	if json.Unmarshal(r.Document, &id) != nil {
		return nil
	}
	if d.DocumentID != "" && id.DocumentID != "" && id.DocumentID != d.DocumentID {
		return nil // an earlier life of the content (processed again since)
	}
	if id.Status != "" && id.Status != apitypes.StatusCompleted {
		return nil
	}
	return r.Document
}

// unavailableMessage is the error of a file whose content was processed
// before and whose result cannot be had any more.
func (f *Finisher) unavailableMessage(file string, d state.Doc) string {
	msg := fmt.Sprintf("%s has the same content as a file processed before (document %s), but that earlier result is no longer on disk "+
		"(its result files were moved or deleted) nor at PerfectParser; ppsync does not pay for the same content again by itself, "+
		"so nothing was charged. To process this file again as a new job, charged again (1 credit a page), run 'ppsync retry --reprocess %s'",
		filepath.Base(file), orUnknown(d.DocumentID), file)
	if i, ok := f.InboxOf(file); ok && f.o.Inboxes[i].Move {
		msg += ", then move the file back from the failed folder into the inbox"
	}
	return msg + "."
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// keepResult stores a result obtained again in the state until the files
// waiting on it are written (see releaseResult).
func (f *Finisher) keepResult(key string, doc json.RawMessage) {
	err := f.st.Update(func(tx *state.Tx) error {
		d, ok, err := tx.Doc(key)
		if err != nil || !ok || d.State != state.DocDone || len(d.Result) > 0 {
			return err
		}
		d.Result = doc
		return tx.AmendDoc(d)
	})
	if err != nil {
		f.log.Warn("cannot keep a result obtained again until its files are written; it is obtained again", "document", key, "error", err)
	}
}

// releaseResult drops the stored result of a finished document when no
// file waits on it any more. It reports whether it did.
func releaseResult(tx *state.Tx, key string) (bool, error) {
	d, ok, err := tx.Doc(key)
	if err != nil || !ok || len(d.Result) == 0 || !state.DocFinal(d.State) {
		return false, err
	}
	// The index of waiting files answers in one seek; the files that have
	// their result are not read.
	if tx.AnyWaitingOn(key) {
		return false, nil
	}
	d.Result = nil
	return true, tx.AmendDoc(d)
}

// metaReleased marks a state file whose stored results were dropped by
// ReleaseStored.
const metaReleased = "finish.stored_results_released"

// releaseScan is how many document records one round of ReleaseStored reads.
const releaseScan = 1000

// ReleaseStored drops the stored result of every finished document no file
// waits on, once per state file: a state written before results were
// dropped once written holds every result ever received. It returns how
// many it dropped; run it in the background after Recover.
func (f *Finisher) ReleaseStored(ctx context.Context) (int, error) {
	done := false
	if err := f.st.View(func(tx *state.Tx) error {
		done = tx.Meta(metaReleased) != ""
		return nil
	}); err != nil || done {
		return 0, err
	}
	// Short transactions of at most releaseScan records each, so a state of
	// a million documents neither holds a long transaction nor a list of
	// every key; the pages read are handed back after each.
	n, after := 0, ""
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var keys []string
		var more bool
		err := f.st.View(func(tx *state.Tx) error {
			var err error
			after, more, err = tx.StoredResults(after, releaseScan, func(k string) error {
				keys = append(keys, k)
				return nil
			})
			return err
		})
		if err == nil {
			err = f.st.Update(func(tx *state.Tx) error {
				for _, k := range keys {
					ok, err := releaseResult(tx, k)
					if err != nil {
						return err
					}
					if ok {
						n++
					}
				}
				if !more {
					return tx.PutMeta(metaReleased, time.Now().UTC().Format(time.RFC3339))
				}
				return nil
			})
		}
		_ = f.st.ReleaseMapped()
		if err != nil {
			return n, fmt.Errorf("drop the stored results of finished documents: %w", err)
		}
		if !more {
			return n, nil
		}
	}
}

// recalledKeep is how many recalled results a Finisher keeps in memory.
const recalledKeep = 16

// recalledCache keeps the last few recalled results, by document key and
// document id (a document processed again is another document).
type recalledCache struct {
	mu    sync.Mutex
	order []string
	docs  map[string]json.RawMessage
}

func recalledKey(d state.Doc) string { return d.Key + "\x00" + d.DocumentID }

func (c *recalledCache) get(d state.Doc) json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.docs[recalledKey(d)]
}

func (c *recalledCache) put(d state.Doc, doc json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := recalledKey(d)
	if c.docs == nil {
		c.docs = map[string]json.RawMessage{}
	}
	if _, ok := c.docs[k]; !ok {
		c.order = append(c.order, k)
		if len(c.order) > recalledKeep {
			delete(c.docs, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.docs[k] = doc
}
