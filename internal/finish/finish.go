// Package finish owns the end of every file's life: it writes the result or
// error file (temp name, fsync, rename), records the file as done, failed or
// invalid only after the rename, moves finished files out of the inbox when
// after = "move", and tells the watcher to forget them. The uploader and the
// poller hand it outcomes; it never calls the API.
//
// Two places are meant to be extended: every output path comes from
// Finisher.outputs, and every written output is reported to the Sink.
package finish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/outpath"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/review"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Forgetter lets finish ask a watcher to report a path again.
type Forgetter interface {
	Forget(inbox int, path string)
}

// Written describes a result or error file that is in place and recorded.
type Written struct {
	Inbox    string          // root of the inbox the file belongs to
	File     state.File      // the file's record, as finished
	Output   string          // path of the result or error file
	Document json.RawMessage // the API's document object; nil for an error file
}

// Sink is told about every result or error file once it is written and
// recorded (a ledger, the demo's printer, metrics).
type Sink interface {
	Written(ctx context.Context, w Written)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, w Written)

// Written calls f.
func (f SinkFunc) Written(ctx context.Context, w Written) { f(ctx, w) }

// Inbox is what finish needs to know of an inbox.
type Inbox struct {
	Path string
	// Move moves finished files out of the inbox: done ones to
	// ProcessedDir, failed and refused ones to FailedDir.
	Move         bool
	ProcessedDir string
	FailedDir    string
	// ResultsDir, when set, receives the result and error files in a tree
	// that mirrors the inbox (outpath.ResultsPath); the inbox is left as
	// users filled it, and a move takes only the file itself.
	ResultsDir string
	// Review holds results for a person to check (review.go);
	// ReviewInLedger lists held results in the ledger, marked.
	Review         review.Rules
	ReviewInLedger bool
}

// Options wires a Finisher.
type Options struct {
	Store   *state.Store
	Inboxes []Inbox
	Watcher Forgetter // may be nil
	Sink    Sink      // may be nil
	// HeldSink is told about results held for review in an inbox with
	// ReviewInLedger (the ledgers only: a held result is not delivered).
	HeldSink Sink // may be nil
	Logger   *slog.Logger
	// Reachable reports whether an inbox (by index) can be written to now;
	// nil means always. A result for a file that is not there is written
	// only into a reachable inbox (an unmounted share's empty mount point
	// gets nothing), and there the file is recorded gone.
	Reachable func(inbox int) bool
	// Fetch asks the API again for a finished document (GET
	// /v1/extractions/:id/documents/:doc, free of charge) when a later file
	// with the same content needs its result, the state no longer holds it
	// and no result file on disk still carries it. It wraps ErrResultGone
	// when the API no longer has the document; any other error is taken as
	// passing and the file is tried again. Nil: the API is never asked.
	Fetch func(ctx context.Context, extractionID, documentID string) (json.RawMessage, error)
	// SyncDir makes the renames in a folder durable once per batch (see
	// Batch); nil means results.SyncDir, which skips network and FUSE
	// filesystems. Tests count syncs through it.
	SyncDir func(dir string) error
	// Now is the clock of the retry back-off of an unreachable inbox; nil
	// means time.Now.
	Now func() time.Time
	// RetryBackoff and MaxRetryBackoff bound the wait between two write
	// attempts into an inbox whose storage is unreachable: the wait starts
	// at RetryBackoff and doubles up to MaxRetryBackoff (defaults 2s, 1m).
	RetryBackoff, MaxRetryBackoff time.Duration
	// ListFolder reports whether the lookups of outputs that may not exist
	// in a folder (the result before a submission, a stale error or result
	// file after a write) are answered from one listing of the folder (see
	// listing.go); nil means where the folder is on a network filesystem.
	// Tests turn it on for local folders.
	ListFolder func(dir string) bool
}

// ErrMismatch means an API document does not belong to the file it was
// mapped to: its filename or page count disagrees.
var ErrMismatch = errors.New("the API's document does not match the file")

// Finisher is the finish stage.
type Finisher struct {
	o   Options
	log *slog.Logger
	st  *state.Store
	// own reads outputs back: below the inboxes' output folders only, and
	// only files ppsync wrote (never through a link).
	own results.Own

	mu      sync.Mutex
	pending map[string]bool // doc keys finished whose files still need writing
	// writing holds a lock per document key while its files are written, so
	// Done and the retry of pending writes never write one file twice.
	writing map[string]*keyLock
	changed chan struct{} // closed and replaced when pending changes
	// writeErrors counts result files that could not be written.
	writeErrors atomic.Int64
	// recalled keeps the last few results read back for documents whose
	// stored result was dropped (see recall), so copies that come one by
	// one after their document finished recall it once, not once each.
	recalled recalledCache
	// outages are the inboxes whose storage could not be reached by the
	// last write into them (see outage.go), by inbox index.
	outages map[int]*outage
	// rv is the review queue and duplicate index (review.go).
	rv reviews
	// names answers whether an output may exist from a listing of its
	// folder (listing.go).
	names folderNames
}

// New builds a Finisher.
func New(o Options) *Finisher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Finisher{o: o, log: o.Logger.With("component", "finish"), st: o.Store, pending: map[string]bool{}, writing: map[string]*keyLock{}, changed: make(chan struct{}), outages: map[int]*outage{}}
	f.own.Log = f.log
	f.names.list = o.ListFolder
	for _, in := range o.Inboxes {
		f.own.Roots = append(f.own.Roots, results.RootsOf(in.Path, in.ResultsDir, in.ProcessedDir, in.FailedDir)...)
	}
	return f
}

// outputs is where the result and the error file of file (in inbox) go:
// beside the file, or under the inbox's results_dir at the file's path
// relative to the inbox. Every output path ppsync writes, reads back or
// removes comes from here.
func (f *Finisher) outputs(inbox, file string) (result, errFile string) {
	base := file
	if in, ok := f.inbox(inbox, file); ok && in.ResultsDir != "" {
		base = outpath.ResultsPath(in.Path, in.ResultsDir, file)
	}
	return results.ResultPath(base), results.ErrorPath(base)
}

// inbox is the configured inbox named root, or else the one that holds file.
func (f *Finisher) inbox(root, file string) (Inbox, bool) {
	for _, in := range f.o.Inboxes {
		if in.Path == root {
			return in, true
		}
	}
	if i, ok := f.InboxOf(file); ok {
		return f.o.Inboxes[i], true
	}
	return Inbox{}, false
}

// InboxOf returns the index of the inbox that holds path.
func (f *Finisher) InboxOf(path string) (int, bool) {
	best, bestLen := -1, -1
	for i, in := range f.o.Inboxes {
		if within(path, in.Path) && len(in.Path) > bestLen {
			best, bestLen = i, len(in.Path)
		}
	}
	return best, best >= 0
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Forget asks the watcher of path's inbox to report it again.
func (f *Finisher) Forget(path string) {
	if f.o.Watcher == nil {
		return
	}
	if i, ok := f.InboxOf(path); ok {
		f.o.Watcher.Forget(i, path)
	}
}

// WriteErrors returns how many result writes failed since start.
func (f *Finisher) WriteErrors() int64 { return f.writeErrors.Load() }

// Idle reports that no finished document waits for its files to be written.
func (f *Finisher) Idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending) == 0
}

// Changed returns a channel closed at the next change of what is pending
// (take it before calling Idle, so no change is missed).
func (f *Finisher) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *Finisher) setPending(key string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on == f.pending[key] {
		return
	}
	if on {
		f.pending[key] = true
	} else {
		delete(f.pending, key)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// Recover finds finished documents whose files were not all written when
// ppsync stopped.
func (f *Finisher) Recover() error {
	var keys []string
	err := f.st.View(func(tx *state.Tx) error {
		// Only open files can be waiting: read those, not every document.
		return tx.OpenFiles(func(rec state.File) error {
			if !waiting(rec) || rec.SHA256 == "" {
				return nil
			}
			d, ok, err := tx.Doc(state.DocKey(rec.ParserID, rec.SHA256))
			if err != nil || !ok || !state.DocFinal(d.State) || !tx.Attached(d.Key, rec.Path) {
				return err
			}
			keys = append(keys, d.Key)
			return nil
		})
	})
	for _, k := range keys {
		f.setPending(k, true)
	}
	return err
}

// Run writes pending files every interval until ctx ends.
func (f *Finisher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		f.RetryPending(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RetryPending writes the files of every finished document still pending.
func (f *Finisher) RetryPending(ctx context.Context) {
	f.mu.Lock()
	keys := make([]string, 0, len(f.pending))
	for k := range f.pending {
		keys = append(keys, k)
	}
	f.mu.Unlock()
	f.Batch(ctx, func(ctx context.Context) {
		for _, k := range keys {
			if ctx.Err() != nil {
				return
			}
			f.finish(ctx, k, true)
		}
	})
}

func waiting(rec state.File) bool {
	return rec.State == state.FileQueued || rec.State == state.FileDuplicate
}

// Done records what the API said of a finished document (completed or
// failed) and writes the result or error file of every file waiting on it.
// The document's filename (and page count, when both sides know it) must
// match what was uploaded; if not, nothing is written, the files carry the
// reason, and the error wraps ErrMismatch.
func (f *Finisher) Done(ctx context.Context, key string, doc apitypes.Document) error {
	return f.DoneAll(ctx, []Answer{{Key: key, Doc: doc}})[0]
}

// Answer is what the API said of one finished document.
type Answer struct {
	Key string // the document's key in the state
	Doc apitypes.Document
}

// DoneAll is Done for the answers of one poll: they are recorded in one
// transaction (state.Store.UpdateEach, in parts over a large state: an
// answer the life-cycle table refuses is refused alone), then the files of every document recorded
// are written in one batch. errs[i] is answers[i]'s error.
func (f *Finisher) DoneAll(ctx context.Context, answers []Answer) (errs []error) {
	errs = make([]error, len(answers))
	raws := make([]json.RawMessage, len(answers))
	var ok []int // the answers that can be recorded
	for i, a := range answers {
		raws[i] = a.Doc.Raw()
		if raws[i] == nil {
			var err error
			if raws[i], err = json.Marshal(a.Doc); err != nil {
				errs[i] = fmt.Errorf("encode document %s: %w", a.Doc.DocumentID, err)
				continue
			}
		}
		ok = append(ok, i)
	}
	mismatch := make([]string, len(answers))
	recErrs := f.st.UpdateEach(len(ok), func(tx *state.Tx, j int) error {
		i := ok[j]
		mismatch[i] = ""
		key, doc := answers[i].Key, answers[i].Doc
		d, found, err := tx.Doc(key)
		if err != nil || !found {
			return err
		}
		if d.State == state.DocDone || d.State == state.DocFailed {
			return nil
		}
		if mismatch[i] = check(d, doc); mismatch[i] != "" {
			return markFiles(tx, d, "RESULT_MISMATCH", mismatch[i])
		}
		d.Result, d.Updated = raws[i], time.Now()
		if doc.Status == apitypes.StatusCompleted {
			d.State = state.DocDone
		} else {
			d.State, d.Code = state.DocFailed, "EXTRACTION_FAILED"
			d.Message = "PerfectParser could not extract this document"
			if doc.ErrorMessage != nil && *doc.ErrorMessage != "" {
				d.Message += ": " + *doc.ErrorMessage
			}
			d.Message += " (the credits stay charged; ppsync does not resend it by itself: check the file, then run 'ppsync retry' on it if you want to)"
		}
		return tx.RecordAnswer(d)
	})
	var finished []string
	for j, i := range ok {
		doc := answers[i].Doc
		switch {
		case recErrs[j] != nil:
			errs[i] = fmt.Errorf("record finished document %s: %w", doc.DocumentID, recErrs[j])
		case mismatch[i] != "":
			f.log.Error("the API's document does not match the file it was sent for; no result written (check the API, then run 'ppsync retry' on the file)",
				"document_id", doc.DocumentID, "reason", mismatch[i])
			errs[i] = fmt.Errorf("document %s: %s: %w", doc.DocumentID, mismatch[i], ErrMismatch)
		default:
			finished = append(finished, answers[i].Key)
		}
	}
	if len(finished) > 0 {
		f.Batch(ctx, func(ctx context.Context) {
			for _, key := range finished {
				f.setPending(key, true)
				f.Finish(ctx, key)
			}
		})
	}
	return errs
}

// check compares an API document with the document record it was mapped
// to; it returns why they differ, or "".
func check(d state.Doc, doc apitypes.Document) string {
	name := d.UploadName
	if name == "" && d.First != "" {
		name = filepath.Base(d.First)
	}
	if doc.Filename != name {
		return fmt.Sprintf("the API returned document %s named %q for the file uploaded as %q", doc.DocumentID, doc.Filename, name)
	}
	if doc.Status == apitypes.StatusCompleted && d.Pages > 0 && doc.PageCount > 0 && doc.PageCount != d.Pages {
		return fmt.Sprintf("the API returned document %s with %d pages for %q, which has %d", doc.DocumentID, doc.PageCount, name, d.Pages)
	}
	return ""
}

// markFiles gives every file waiting on d a reason, without finishing it.
func markFiles(tx *state.Tx, d state.Doc, code, reason string) error {
	paths, err := tx.WaitingOn(d.Key)
	if err != nil {
		return err
	}
	for _, p := range paths {
		rec, ok, err := tx.File(p)
		if err != nil {
			return err
		}
		if !ok || !waiting(rec) {
			continue
		}
		rec.Code, rec.Reason, rec.Updated = code, reason, time.Now()
		if err := tx.AmendFile(rec); err != nil {
			return err
		}
	}
	return nil
}

// Failed fails documents that never got a result (the API refused their
// batch, or forgot their job) and writes their error files.
func (f *Finisher) Failed(ctx context.Context, keys []string, code, msg string) error {
	var done []string
	err := f.st.Update(func(tx *state.Tx) error {
		for _, k := range keys {
			d, ok, err := tx.Doc(k)
			if err != nil {
				return err
			}
			if !ok || d.State == state.DocDone || d.State == state.DocFailed {
				continue
			}
			d.Code, d.Message, d.Batch, d.Updated = code, msg, "", time.Now()
			if err := tx.FailDoc(d); err != nil {
				return err
			}
			done = append(done, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d failed documents: %w", len(keys), err)
	}
	f.Batch(ctx, func(ctx context.Context) {
		for _, k := range done {
			f.setPending(k, true)
			f.Finish(ctx, k)
		}
	})
	return nil
}

// Finish writes the result (or error) file of every file waiting on a
// finished document, then records each file done or failed; the record
// changes only after the rename. A failed write stays pending and is
// retried by Run. The document's stored result is dropped in the
// transaction that records the last file waiting on it; a later file with
// the same content gets it back from a result file on disk or the API
// (see recall). Asking the API is left to Run, so a caller (the uploader's
// intake) never waits on the network: the file stays pending until then.
func (f *Finisher) Finish(ctx context.Context, key string) { f.finish(ctx, key, false) }

// finish is Finish; with fetch it may ask the API for a dropped result.
func (f *Finisher) finish(ctx context.Context, key string, fetch bool) {
	b, own := f.batchOf(ctx)
	if own {
		defer b.flush(ctx)
	}
	b.lock(ctx, key)
	var d state.Doc
	var files []state.File
	err := f.st.View(func(tx *state.Tx) error {
		var ok bool
		var err error
		d, ok, err = tx.Doc(key)
		if err != nil || !ok {
			return err
		}
		// The files still waiting, from the index of waiting files: a
		// document whose copies all have their result reads none of them.
		paths, err := tx.WaitingOn(key)
		if err != nil {
			return err
		}
		for _, p := range paths {
			if rec, ok, _ := tx.File(p); ok && waiting(rec) && rec.SHA256 == d.SHA256 {
				files = append(files, rec)
			}
		}
		return nil
	})
	if err != nil {
		f.log.Error("cannot read a finished document; retrying", "document", key, "error", err)
		f.setPending(key, true)
		return
	}
	if d.State != state.DocDone && d.State != state.DocFailed {
		f.setPending(key, false)
		return
	}
	out, recalled, later := outcomeOf(d), false, false
	if len(files) > 0 {
		out, recalled, later = f.outcomeFor(ctx, d, fetch)
	}
	if later {
		f.setPending(key, true)
		return
	}
	allOK := true
	for i, rec := range files {
		if !f.finishFile(ctx, b, d, rec, out, allOK && i == len(files)-1) {
			allOK = false
		}
	}
	if !allOK {
		b.fail(key)
	}
	if len(files) == 0 && len(d.Result) > 0 {
		// Every file was deleted before the result came.
		if err := f.st.Update(func(tx *state.Tx) error { _, err := releaseResult(tx, key); return err }); err != nil {
			f.log.Warn("cannot drop a result no file waits for any more; it is dropped with the next file of the same content", "document", key, "error", err)
		}
	}
	// Settled when the batch's folders are synced and its files recorded.
	b.settle(key, func(ok bool) {
		if !ok && recalled {
			// Kept until the write that failed is done, so its retry (or a
			// restart) needs neither the disk nor the API again.
			f.keepResult(key, out.doc)
		}
		f.setPending(key, !ok)
	})
}

// outcomeFor is what the files of the finished document d get: its stored
// result or error, or, when the stored result was dropped, the result
// recalled (recalled), or later when it can only be had later (ask again),
// or an unavailable outcome.
func (f *Finisher) outcomeFor(ctx context.Context, d state.Doc, fetch bool) (out outcome, recalled, later bool) {
	out = outcomeOf(d)
	if d.State != state.DocDone || len(d.Result) != 0 {
		return out, false, false
	}
	raw, later := f.recall(ctx, d, fetch)
	switch {
	case raw != nil:
		out.doc = raw
		return out, true, false
	case later:
		return out, false, true
	default:
		return outcome{unavailable: true}, false, false
	}
}

// FinishFile writes the result (or error) file of one file waiting on a
// finished document, a copy that came after the document finished, and
// records it; no other file of the document is read. Its cost does not
// depend on how many copies came before. When the stored result was
// dropped it is recalled once (see recall) and kept in memory for the
// copies that follow. A file that cannot be written now leaves the
// document pending, and Run writes it with any other file still waiting.
func (f *Finisher) FinishFile(ctx context.Context, key, path string) {
	b, own := f.batchOf(ctx)
	if own {
		defer b.flush(ctx)
	}
	b.lock(ctx, key)
	var d state.Doc
	var rec state.File
	var found, attached bool
	err := f.st.View(func(tx *state.Tx) error {
		var ok bool
		var err error
		if d, ok, err = tx.Doc(key); err != nil || !ok {
			return err
		}
		if rec, found, err = tx.File(path); err != nil {
			return err
		}
		attached = tx.Attached(key, path)
		return nil
	})
	if err != nil {
		f.log.Error("cannot read a finished document; retrying", "document", key, "file", path, "error", err)
		f.setPending(key, true)
		return
	}
	if !state.DocFinal(d.State) || !found || !attached || !waiting(rec) || rec.SHA256 != d.SHA256 {
		return
	}
	out, recalled, later := f.outcomeFor(ctx, d, false)
	if later {
		f.setPending(key, true)
		return
	}
	if !f.finishFile(ctx, b, d, rec, out, true) {
		b.fail(key)
	}
	b.settle(key, func(ok bool) {
		if ok {
			return
		}
		if recalled {
			f.keepResult(key, out.doc)
		}
		f.setPending(key, true)
	})
}

// outcome is what the files of a finished document get.
type outcome struct {
	ok          bool            // a result file (else an error file)
	doc         json.RawMessage // the API's document (nil when unknown)
	code, msg   string          // the error file's code and message
	unavailable bool            // the result of the same content cannot be had (CodeResultUnavailable)
}

func outcomeOf(d state.Doc) outcome {
	if d.State == state.DocDone {
		return outcome{ok: true, doc: d.Result}
	}
	return outcome{doc: d.Result, code: d.Code, msg: d.Message}
}

// finishFile writes rec's output into the batch b, which records it once
// its folder is synced; with last the record also drops the document's
// stored result when no file waits on it any more. It reports whether rec
// is finished or on its way (not pending).
func (f *Finisher) finishFile(ctx context.Context, b *batch, d state.Doc, rec state.File, o outcome, last bool) bool {
	inbox, inInbox := f.InboxOf(rec.Path)
	if inInbox && f.outageHolds(inbox) {
		return false // the outage was reported once; tried again after its back-off
	}
	if _, err := os.Lstat(winpath.Sys(rec.Path)); errors.Is(err, os.ErrNotExist) {
		return f.missing(b, rec, d.Key, last)
	}
	resPath, errPath := f.outputs(rec.Inbox, rec.Path)
	src := results.Source{Path: rec.Path, SHA256: rec.SHA256, Size: rec.Size}
	code, msg := o.code, o.msg
	if o.unavailable {
		code, msg = CodeResultUnavailable, f.unavailableMessage(rec.Path, d)
	}
	if held, finished := f.hold(ctx, d, rec, o, last); held {
		return finished
	}
	out, stale := errPath, resPath
	var data []byte
	var werr error
	if o.ok {
		dup := ""
		if d.First != "" && d.First != rec.Path {
			dup = d.First
		}
		out, stale = resPath, errPath
		data, werr = results.EncodeResult(o.doc, src, dup)
	} else {
		data, werr = results.EncodeError(code, msg, src)
	}
	if werr == nil {
		werr = b.inFolder(out, func() error { return results.WriteAtomicNoDirSync(out, data) })
	}
	if werr == nil {
		f.names.noteWritten(out)
	}
	if werr != nil {
		f.writeErrors.Add(1)
		if inInbox && f.unreachable(inbox, werr) {
			f.outageStart(inbox, werr)
			return false
		}
		f.log.Error("cannot write the result file; retrying (nothing is lost: the result is kept in the state until it is written)", "file", rec.Path, "error", werr)
		return false
	}
	if inInbox {
		f.outageEnd(inbox)
	}
	f.removeStale(rec, stale)
	f.delivered(rec, o.doc, o.ok)
	rec.Result, rec.Updated = out, time.Now()
	if o.ok {
		rec.State, rec.Code, rec.Reason = state.FileDone, "", ""
	} else {
		rec.State, rec.Code, rec.Reason = state.FileFailed, code, msg
	}
	b.add(batchItem{key: d.Key, rec: rec, out: out, doc: o.doc, ok: o.ok, o: o, last: last})
	return true
}

// recordFile records the outcome of a waiting file (gone, or its result or
// error file written); with last it also drops the stored result of the
// document key when no file waits on it any more.
func recordFile(tx *state.Tx, rec state.File, key string, last bool) error {
	write := tx.FinishFile
	if rec.State == state.FileGone {
		write = tx.MarkGone
	}
	if err := write(rec); err != nil || !last {
		return err
	}
	_, err := releaseResult(tx, key)
	return err
}

// missing handles a finished file that is not where it was: in a
// reachable inbox it was deleted (recorded gone; a later file with the same
// content gets the result from the API), in an unreachable one it is left waiting
// and written when the inbox returns (see Recover). Either way it is no
// longer pending.
func (f *Finisher) missing(b *batch, rec state.File, key string, last bool) bool {
	i, ok := f.InboxOf(rec.Path)
	if ok && f.o.Reachable != nil && !f.o.Reachable(i) {
		f.log.Debug("inbox unreachable; the result is written when it returns", "file", rec.Path)
		return true
	}
	if !f.names.goneForSure(rec.Path) {
		f.log.Warn("a stat said the file is gone but its folder still lists it (a share under load); its result is written at the next attempt", "file", rec.Path)
		return false
	}
	rec.State, rec.Reason, rec.Updated = state.FileGone, "deleted from the inbox before its result was written", time.Now()
	b.addGone(batchItem{key: key, rec: rec, last: last})
	return true
}

// Refused writes the error file of a file refused before upload (never
// sent, no credits spent) and records it invalid.
func (f *Finisher) Refused(ctx context.Context, rec state.File, code, msg string) error {
	resPath, errPath := f.outputs(rec.Inbox, rec.Path)
	errPath = fitName(errPath, results.ErrorSuffix)
	src := results.Source{Path: rec.Path, SHA256: rec.SHA256, Size: rec.Size}
	if err := inFolder(errPath, func() error { return results.WriteErrorAt(errPath, code, msg, src) }); err != nil {
		return fmt.Errorf("refuse %s: %w", rec.Path, err)
	}
	f.names.noteWritten(errPath)
	f.removeStale(rec, resPath)
	rec.State, rec.Code, rec.Reason, rec.Result, rec.Updated = state.FileInvalid, code, msg, errPath, time.Now()
	if rec.FirstSeen.IsZero() {
		rec.FirstSeen = rec.Updated
	}
	f.log.Warn("file refused before upload (no credits spent); see its error file", "file", rec.Path, "code", code, "reason", msg)
	if err := f.st.Update(func(tx *state.Tx) error { return tx.RefuseFile(rec) }); err != nil {
		return fmt.Errorf("record refused file %s: %w", rec.Path, err)
	}
	f.after(ctx, rec, errPath, nil, false)
	return nil
}

// AlreadyDone recognises a result already on disk for exactly rec's content
// (the state was lost or rebuilt) and records the file done, so it is not
// paid for again.
func (f *Finisher) AlreadyDone(rec state.File) (bool, error) {
	resPath, _ := f.outputs(rec.Inbox, rec.Path)
	if !f.names.mayExist(resPath, rec.FirstSeen) {
		return f.alreadyHeld(rec)
	}
	src, ok := f.own.ReadSource(resPath, rec.Path)
	if !ok || src.SHA256 != rec.SHA256 {
		return f.alreadyHeld(rec)
	}
	rec.State, rec.Result, rec.Updated = state.FileDone, resPath, time.Now()
	f.log.Info("result already on disk for this content; not submitting again", "file", rec.Path)
	if err := f.st.Update(func(tx *state.Tx) error { return tx.RecognizeResult(rec) }); err != nil {
		return false, fmt.Errorf("record %s done: %w", rec.Path, err)
	}
	return true, nil
}

// after runs what follows a recorded output: the sink, then the move.
func (f *Finisher) after(ctx context.Context, rec state.File, out string, doc json.RawMessage, ok bool) {
	if moved, i, done := f.afterMove(ctx, rec, out, doc, ok); done {
		f.recordMoves(ctx, []movedFile{{rec: moved, inbox: i}})
	}
}

// movedFile is a finished file moved out of its inbox, whose record is to
// say where it went.
type movedFile struct {
	rec   state.File
	inbox int
}

// afterMove runs the sink, then moves the file when its inbox says so;
// moved reports that it did, with rec as it is to be recorded
// (recordMoves).
func (f *Finisher) afterMove(ctx context.Context, rec state.File, out string, doc json.RawMessage, ok bool) (_ state.File, inbox int, moved bool) {
	if f.o.Sink != nil {
		f.o.Sink.Written(ctx, Written{Inbox: rec.Inbox, File: rec, Output: out, Document: doc})
	}
	i, found := f.InboxOf(rec.Path)
	if !found || !f.o.Inboxes[i].Move {
		return rec, i, false
	}
	in := f.o.Inboxes[i]
	dest := in.FailedDir
	if ok {
		dest = in.ProcessedDir
	}
	move := results.Move
	if in.ResultsDir != "" {
		move = results.MoveFile // the outputs stay in results_dir
	}
	to, err := move(rec.Path, in.Path, dest)
	if err != nil {
		f.log.Warn("cannot move a finished file out of the inbox; it stays where it is", "file", rec.Path, "error", err)
		return rec, i, false
	}
	f.log.Debug("moved", "file", rec.Path, "to", to)
	rec.MovedTo = to
	return rec, i, true
}

// recordMoves records where the files moved went, in one transaction
// (state.Store.UpdateEach, in parts over a large state: a record refused is refused alone), and has the
// watcher let go of them.
func (f *Finisher) recordMoves(_ context.Context, ms []movedFile) {
	errs := f.st.UpdateEach(len(ms), func(tx *state.Tx, i int) error {
		rec := ms[i].rec
		if _, ok, err := tx.File(rec.Path); err != nil {
			return err
		} else if !ok {
			// The watcher saw the file leave (this move) and its record was
			// let go first: record it again, with where it went, so that
			// it is still counted.
			return tx.RestoreFile(rec)
		}
		return tx.AmendFile(rec)
	})
	for i, m := range ms {
		if errs[i] != nil {
			f.log.Warn("moved a finished file but cannot record where", "file", m.rec.Path, "error", errs[i])
		}
		if f.o.Watcher != nil {
			f.o.Watcher.Forget(m.inbox, m.rec.Path)
		}
	}
}

// inFolder creates out's folder (a results_dir mirrors the inbox's tree as
// files arrive), then runs write.
func inFolder(out string, write func() error) error {
	if err := os.MkdirAll(winpath.Sys(filepath.Dir(out)), 0o755); err != nil {
		return results.Describe("writing", out, err)
	}
	return write()
}

// removeStale deletes the outdated output stale of rec when it may exist:
// rec's record names it (ppsync wrote it), or the listing of its folder
// holds it or cannot tell (see listing.go for why a name the listing lacks
// is not there to remove).
func (f *Finisher) removeStale(rec state.File, stale string) {
	if rec.Result == stale || f.names.mayExist(stale, rec.FirstSeen) {
		results.RemoveStale(stale)
	}
}
