package uploader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/fileid"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// uploadName is the filename a document is sent under: the base name of
// its first file.
func uploadName(d state.Doc) string {
	if d.First == "" {
		return ""
	}
	return sendName(d.First)
}

// inspected is what the parallel part of intake learnt about a ready file:
// its hash and validation, or that it is unchanged since it was handled.
type inspected struct {
	unchanged bool
	info      filecheck.Info
	err       error
}

// inspect hashes and validates a ready file. It runs on several files at
// once and only reads the state; everything that decides and records a
// file's fate runs afterwards in handle, one event at a time, in the order
// the events came.
//
// buf is the worker's own room for reading (pdfcheck.BufferSize), reused
// from one file to the next.
func (u *Uploader) inspect(ev watcher.Event, buf []byte) inspected {
	if ev.Kind != watcher.Ready {
		return inspected{}
	}
	in := u.o.Inboxes[ev.Inbox]
	var rec state.File
	var known bool
	if err := u.st.View(func(tx *state.Tx) error {
		var err error
		rec, known, err = tx.File(ev.Path)
		return err
	}); err == nil && unchanged(rec, known, ev, in) {
		return inspected{unchanged: true}
	}
	o := u.checks(in)
	o.Buffer = buf
	info, err := u.inspectFile(ev.Path, o)
	return inspected{info: info, err: err}
}

// inspectFile hashes and validates the file at path: the one pass over its
// bytes before the upload's.
func (u *Uploader) inspectFile(path string, o filecheck.Options) (filecheck.Info, error) {
	if u.o.Inspect != nil {
		return u.o.Inspect(path, o)
	}
	return filecheck.Inspect(path, o)
}

// checks are what validation asks of an inbox's files; the state remembers
// each PDF's validation while it runs (filecheck.Journal).
func (u *Uploader) checks(in Inbox) filecheck.Options {
	o := filecheck.Options{Types: in.Types, MaxSize: u.o.MaxFileSize, MaxPages: in.MaxPages}
	if u.st != nil {
		o.Journal = u.st
	}
	return o
}

// unchanged reports that a file was handled before with this size, mtime
// and parser, and is still that file (fileid: not replaced or rewritten in
// place keeping both): it is never hashed again.
func unchanged(rec state.File, known bool, ev watcher.Event, in Inbox) bool {
	return known && rec.Size == ev.Size && rec.ModTime == ev.ModTime.UnixNano() && rec.ParserID == in.ParserID && rec.State != state.FileGone &&
		rec.MovedTo == "" && fileid.Same(ev.Path, rec.Identity, ev.Identity, rec.Fingerprint)
}

// handle handles one event and records what it decided at once.
func (u *Uploader) handle(ctx context.Context, ev watcher.Event, pre inspected) {
	var g intakeGroup
	u.handleIn(ctx, ev, pre, &g)
	u.commitIntake(ctx, &g)
}

// handleIn handles one event; a validated file to queue joins g, whose
// records are written together by commitIntake. Anything else that
// writes the state (a file changed, refused, deleted) commits g first, so
// the records are written in the order of the events.
func (u *Uploader) handleIn(ctx context.Context, ev watcher.Event, pre inspected, g *intakeGroup) {
	in := u.o.Inboxes[ev.Inbox]
	if g.has(ev.Path, "") {
		u.commitIntake(ctx, g) // its record is read again below
	}
	var err error
	switch ev.Kind {
	case watcher.Ready:
		if !u.admitWrite(ev) {
			return // held until the inbox's results can be written
		}
		err = u.ready(ctx, ev, in, pre, g)
	case watcher.Incomplete:
		u.commitIntake(ctx, g)
		f := state.File{Path: ev.Path, Inbox: in.Path, ParserID: in.ParserID, Size: ev.Size, ModTime: ev.ModTime.UnixNano()}
		if sha, n, herr := hashFile(ev.Path); herr == nil {
			f.SHA256, f.Size = sha, n
		}
		err = u.o.Finisher.Refused(ctx, f, "INCOMPLETE_FILE", ev.Reason)
	case watcher.Gone:
		u.release(ev)
		err = u.gone(ctx, ev.Path, g)
	}
	if err != nil {
		u.intakeFailed(ev.Path, err)
	}
}

// intakeFailed reports a file that could not be recorded and has the
// watcher report it again. A --once run's watcher may have finished: the
// file is listed instead (Leftover), left as it is for the next run.
func (u *Uploader) intakeFailed(path string, err error) {
	if u.o.Once {
		u.log.Error("cannot record a file; it is left for the next run", "file", path, "error", state.Fault(err))
		u.unrecorded.add(Unrecorded{Path: path, Err: err})
		return
	}
	u.log.Error("cannot record a file; it is looked at again at the next rescan", "file", path, "error", state.Fault(err))
	u.o.Finisher.Forget(path)
}

// Unrecorded is a file a --once run could not record: it was not sent or
// charged, and the next run takes it.
type Unrecorded struct {
	Path string
	Err  error
}

// unrecorded lists the files a --once run could not record.
type unrecorded struct {
	mu    sync.Mutex
	files []Unrecorded
}

func (l *unrecorded) add(f Unrecorded) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.files = append(l.files, f)
}

func (l *unrecorded) list() []Unrecorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.files)
}

func (u *Uploader) ready(ctx context.Context, ev watcher.Event, in Inbox, pre inspected, g *intakeGroup) error {
	mtime := ev.ModTime.UnixNano()
	var rec state.File
	var known bool
	if err := u.st.View(func(tx *state.Tx) error {
		var err error
		rec, known, err = tx.File(ev.Path)
		return err
	}); err != nil {
		return fmt.Errorf("read the record of %s: %w", ev.Path, err)
	}
	if unchanged(rec, known, ev, in) {
		return nil // unchanged since it was handled: never rehash
	}
	if pre.unchanged {
		// Its record changed between inspect and now (it was pruned or
		// marked gone): hash it here.
		pre = inspected{}
		pre.info, pre.err = u.inspectFile(ev.Path, u.checks(in))
	}
	now := time.Now()
	f := state.File{Path: ev.Path, Inbox: in.Path, ParserID: in.ParserID, Size: ev.Size, ModTime: mtime, FirstSeen: now, Updated: now,
		Identity: ev.Identity}
	if !ev.Seen.IsZero() {
		f.FirstSeen = ev.Seen // drop to result: from when it could first be seen, not from now
	}
	if ev.Identity == "" {
		// Where the watcher gives no identity the content's fingerprint
		// tells this life of the file from the next ("" when unreadable).
		// Where it does, identities decide (fileid.Same) and the file is
		// not opened for it.
		f.Fingerprint, _ = fileid.Fingerprint(ev.Path)
	}
	if known {
		f.FirstSeen = rec.FirstSeen
		u.commitIntake(ctx, g) // detach writes a document the group may hold
		if err := u.detach(rec); err != nil {
			return err
		}
	}
	info, err := pre.info, pre.err
	var p *filecheck.Problem
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil // deleted while settling: the watcher reports it gone
	case errors.Is(err, os.ErrPermission):
		return u.o.Finisher.Refused(ctx, f, "UNREADABLE_FILE",
			fmt.Sprintf("ppsync may not read this file (%v): grant the ppsync user read access, then run 'ppsync retry' on it", err))
	case err != nil && !errors.As(err, &p):
		return fmt.Errorf("read %s: %w", ev.Path, err)
	}
	f.SHA256, f.Size = info.SHA256, info.Size
	if f.SHA256 == "" {
		// Refused before reading it all (too large): the error file still
		// names the content.
		if sha, n, herr := hashFile(ev.Path); herr == nil {
			f.SHA256, f.Size = sha, n
		}
	}
	if msg := nameProblem(ev.Path); msg != "" {
		return u.o.Finisher.Refused(ctx, f, CodeNameTooLong, msg)
	}
	if p != nil {
		return u.o.Finisher.Refused(ctx, f, p.Code, p.Message)
	}
	f.SHA256, f.Pages, f.Size = info.SHA256, info.Pages, info.Size
	key := state.DocKey(in.ParserID, info.SHA256)
	if g.has("", key) {
		u.commitIntake(ctx, g) // the same content: read its document as recorded
	}

	// A result already on disk for this exact content (the state was lost or
	// rebuilt): recognise it rather than pay again, unless the file was
	// asked to be processed again.
	if again, err := u.sendAgain(key); err != nil {
		return fmt.Errorf("read the document of %s: %w", ev.Path, err)
	} else if !again {
		if done, err := u.o.Finisher.AlreadyDone(f); err != nil || done {
			return err
		}
	}

	g.add(u.queueWrite(&queuedFile{ev: ev, in: in, f: f, info: info, key: key, now: now}))
	return nil
}

// intakeGroupMax bounds the files recorded in one transaction: each reads
// and writes a few records scattered over the state file, and what one
// transaction maps stays mapped until its commit (see state.Update).
const intakeGroupMax = 16

// intakeGroupWait is how long a group of validated files waits, from its
// first, for files already on their way (being validated, or waiting for
// a validation worker) before it is committed without them. A file with
// none on its way after it is committed at once. A backlog's documents
// wait for their batch far longer.
const intakeGroupWait = 100 * time.Millisecond

func (u *Uploader) groupWait() time.Duration {
	if u.intakeWait > 0 {
		return u.intakeWait
	}
	return intakeGroupWait
}

// intakeGroup is what intake handled since its last commit: the records
// to write (validated files to queue, files deleted), written in one
// transaction (state.Store.UpdateEach; in parts over a large state), and how many events were handled
// (intakeBusy counts them until then). No two writes of a group touch the
// same path or document.
type intakeGroup struct {
	writes  []intakeWrite
	handled int
}

// intakeWrite is the records one event writes: write runs in the group's
// transaction (it may run twice, see state.Store.UpdateEach, and must set,
// not accumulate, what it reports), then done with its error.
type intakeWrite struct {
	path, key string // the file and the document written ("" for none)
	write     func(tx *state.Tx) error
	done      func(ctx context.Context, err error)
}

// queuedFile is a validated file to queue, and what its transaction did.
type queuedFile struct {
	ev   watcher.Event
	in   Inbox
	f    state.File
	info filecheck.Info
	key  string
	now  time.Time

	fresh, finished bool
	doc             state.Doc
}

// has reports that a write of the group touches this path or document.
func (g *intakeGroup) has(path, key string) bool {
	for _, w := range g.writes {
		if path != "" && w.path == path || key != "" && w.key == key {
			return true
		}
	}
	return false
}

func (g *intakeGroup) add(w intakeWrite) { g.writes = append(g.writes, w) }

// full reports that the group should be committed before it takes more.
func (g *intakeGroup) full() bool { return len(g.writes) >= intakeGroupMax }

// commitIntake writes the group's records in one transaction, then runs
// what follows each (queue a new document, hand on a file whose content is
// already finished). A record refused is refused alone: its file is
// reported and looked at again at the next rescan.
func (u *Uploader) commitIntake(ctx context.Context, g *intakeGroup) {
	ws := g.writes
	g.writes = nil
	if len(ws) == 0 {
		return
	}
	errs := u.st.UpdateEach(len(ws), func(tx *state.Tx, i int) error { return ws[i].write(tx) })
	for i, w := range ws {
		w.done(ctx, errs[i])
	}
}

// queueWrite is the write of a validated file to queue.
func (u *Uploader) queueWrite(q *queuedFile) intakeWrite {
	return intakeWrite{path: q.ev.Path, key: q.key, write: func(tx *state.Tx) error { return queueFile(tx, q) },
		done: func(ctx context.Context, err error) {
			switch {
			case err != nil:
				u.intakeFailed(q.ev.Path, fmt.Errorf("record %s: %w", q.ev.Path, err))
			case q.fresh:
				u.mu.Lock()
				first := u.queue.Len() == 0
				u.queue.of(q.in.ParserID).pushBack(u.queue.entry(q.in.ParserID, q.doc, q.now))
				u.lastQueued = time.Now()
				u.mu.Unlock()
				if first {
					u.wake() // the send loop's tick stops while nothing is queued
				}
				u.log.Debug("queued", "file", q.ev.Path, "type", q.info.ContentType, "pages", q.info.Pages, "sha256", q.info.SHA256[:12])
			case q.finished:
				u.log.Info("same content as a file already processed; writing its result without submitting again", "file", q.ev.Path)
				u.o.Finisher.FinishFile(ctx, q.key, q.ev.Path)
			default:
				u.log.Info("same content as a file already in progress; it will share that result", "file", q.ev.Path)
			}
		}}
}

// queueFile records q's file waiting for its document, and the document
// (new content, a new life of it, or one more file of it). It may run
// twice (state.Store.UpdateEach): it sets what it reports.
func queueFile(tx *state.Tx, q *queuedFile) error {
	in, info, key, f := q.in, q.info, q.key, q.f
	q.fresh, q.finished = false, false
	d, ok, err := tx.Doc(key)
	if err != nil {
		return err
	}
	if !ok {
		d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages, State: state.DocQueued,
			ContentType: info.ContentType}
		q.fresh = true
	} else if d.Retry && (d.State == state.DocFailed || d.State == state.DocDone) {
		// A new life: the files of the earlier one are not its files.
		if err := tx.DetachAll(&d); err != nil {
			return err
		}
		d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages,
			State: state.DocQueued, Retries: d.Retries + 1, ContentType: info.ContentType}
		q.fresh = true
	}
	// One record per file of the document: the cost of a copy does
	// not grow with the copies before it (see state.Tx.DocFiles).
	if _, err := tx.Attach(&d, q.ev.Path); err != nil {
		return err
	}
	d.Updated = q.now
	f.State = state.FileQueued
	if !q.fresh && tx.OtherFile(key, q.ev.Path) {
		f.State = state.FileDuplicate
	}
	q.finished = d.State == state.DocDone || d.State == state.DocFailed
	q.doc = d
	write := tx.AmendDoc
	if q.fresh {
		write = tx.QueueDoc
	}
	if err := write(d); err != nil {
		return err
	}
	return tx.QueueFile(f)
}

// detach removes a file's old life from its document (the file changed).
func (u *Uploader) detach(rec state.File) error {
	var drop bool
	err := u.st.Update(func(tx *state.Tx) (err error) {
		drop, err = detachFile(tx, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("detach %s from its old content: %w", rec.Path, err)
	}
	if drop {
		u.unqueue(rec.ParserID, state.DocKey(rec.ParserID, rec.SHA256))
	}
	return nil
}

// detachFile removes rec's life from its document in tx; drop reports
// that the document, queued and left with no file, was failed (the caller
// takes it out of the queue once this is committed).
func detachFile(tx *state.Tx, rec state.File) (drop bool, err error) {
	if rec.SHA256 == "" {
		return false, nil
	}
	d, ok, err := tx.Doc(state.DocKey(rec.ParserID, rec.SHA256))
	if err != nil || !ok {
		return false, err
	}
	if err := tx.Detach(&d, rec.Path); err != nil {
		return false, err
	}
	if d.First == "" && d.State == state.DocQueued {
		d.Code, d.Message = "GONE", "every file with this content changed or was deleted before it was sent"
		return true, tx.FailDoc(d)
	}
	return false, tx.AmendDoc(d)
}

func (u *Uploader) unqueue(parser, key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f := u.queue.byParser[parser]
	if f == nil {
		return
	}
	sha, _ := hashOf(parser, key)
	u.queue.release(f.removeFunc(func(e *queued) bool { return e.sha == sha }))
}

// gone handles a file deleted from the inbox: its record joins g.
func (u *Uploader) gone(ctx context.Context, path string, g *intakeGroup) error {
	var rec state.File
	var ok bool
	if err := u.st.View(func(tx *state.Tx) error {
		var err error
		rec, ok, err = tx.File(path)
		return err
	}); err != nil || !ok {
		return err
	}
	switch {
	case rec.MovedTo != "":
		return nil // moved out by after = "move": kept, and counted, as finished
	case rec.State == state.FileQueued, rec.State == state.FileDuplicate:
		key := ""
		if rec.SHA256 != "" {
			key = state.DocKey(rec.ParserID, rec.SHA256)
		}
		if key != "" && g.has("", key) {
			u.commitIntake(ctx, g)
		}
		var drop, finished bool
		g.add(intakeWrite{path: path, key: key,
			write: func(tx *state.Tx) (err error) {
				// Read again where it is written: its result may have been
				// recorded since the look above (the finish stage records
				// a batch once its folder is synced), and a finished file
				// that leaves the inbox is let go, not marked deleted.
				cur, ok, err := tx.File(path)
				if err != nil || !ok {
					return err
				}
				drop, finished = false, false
				if cur.MovedTo != "" || (cur.State != state.FileQueued && cur.State != state.FileDuplicate) {
					finished = true
					if cur.MovedTo != "" {
						return nil
					}
					return tx.ForgetFile(path)
				}
				cur.Reason, cur.Updated = "deleted from the inbox before its result arrived", time.Now()
				if drop, err = detachFile(tx, cur); err != nil {
					return fmt.Errorf("detach %s from its content: %w", path, err)
				}
				return tx.MarkGone(cur)
			},
			done: func(_ context.Context, err error) {
				switch {
				case err != nil:
					u.intakeFailed(path, err)
				case finished:
				default:
					if drop {
						u.unqueue(rec.ParserID, key)
					}
					u.log.Warn("file deleted before its result arrived; if it was already sent, its result is kept for the same content", "file", path)
				}
			}})
		return nil
	default:
		// Finished files that leave the inbox need no tracking.
		g.add(intakeWrite{path: path, write: func(tx *state.Tx) error { return tx.ForgetFile(path) },
			done: func(_ context.Context, err error) {
				if err != nil {
					u.intakeFailed(path, err)
				}
			}})
		return nil
	}
}
