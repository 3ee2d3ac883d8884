package uploader

import (
	"context"
	"errors"
	"fmt"
	"os"
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
func (u *Uploader) inspect(ev watcher.Event) inspected {
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
	info, err := u.inspectFile(ev.Path, u.checks(in))
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

func (u *Uploader) handle(ctx context.Context, ev watcher.Event, pre inspected) {
	in := u.o.Inboxes[ev.Inbox]
	var err error
	switch ev.Kind {
	case watcher.Ready:
		if !u.admitWrite(ev) {
			return // held until the inbox's results can be written
		}
		err = u.ready(ctx, ev, in, pre)
	case watcher.Incomplete:
		f := state.File{Path: ev.Path, Inbox: in.Path, ParserID: in.ParserID, Size: ev.Size, ModTime: ev.ModTime.UnixNano()}
		if sha, n, herr := hashFile(ev.Path); herr == nil {
			f.SHA256, f.Size = sha, n
		}
		err = u.o.Finisher.Refused(ctx, f, "INCOMPLETE_FILE", ev.Reason)
	case watcher.Gone:
		u.release(ev)
		err = u.gone(ev.Path)
	}
	if err != nil {
		u.log.Error("cannot record a file; it is looked at again at the next rescan", "file", ev.Path, "error", state.Fault(err))
		u.o.Finisher.Forget(ev.Path)
	}
}

func (u *Uploader) ready(ctx context.Context, ev watcher.Event, in Inbox, pre inspected) error {
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

	var finished, fresh bool
	var doc state.Doc
	err = u.st.Update(func(tx *state.Tx) error {
		d, ok, err := tx.Doc(key)
		if err != nil {
			return err
		}
		if !ok {
			d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages, State: state.DocQueued,
				ContentType: info.ContentType}
			fresh = true
		} else if d.Retry && (d.State == state.DocFailed || d.State == state.DocDone) {
			// A new life: the files of the earlier one are not its files.
			if err := tx.DetachAll(&d); err != nil {
				return err
			}
			d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages,
				State: state.DocQueued, Retries: d.Retries + 1, ContentType: info.ContentType}
			fresh = true
		}
		// One record per file of the document: the cost of a copy does
		// not grow with the copies before it (see state.Tx.DocFiles).
		if _, err := tx.Attach(&d, ev.Path); err != nil {
			return err
		}
		d.Updated = now
		f.State = state.FileQueued
		if !fresh && tx.OtherFile(key, ev.Path) {
			f.State = state.FileDuplicate
		}
		finished = d.State == state.DocDone || d.State == state.DocFailed
		doc = d
		write := tx.AmendDoc
		if fresh {
			write = tx.QueueDoc
		}
		if err := write(d); err != nil {
			return err
		}
		return tx.QueueFile(f)
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", ev.Path, err)
	}
	switch {
	case fresh:
		u.mu.Lock()
		u.queue.of(in.ParserID).pushBack(u.queue.entry(in.ParserID, doc, now))
		u.lastQueued = time.Now()
		u.mu.Unlock()
		u.log.Debug("queued", "file", ev.Path, "type", info.ContentType, "pages", info.Pages, "sha256", info.SHA256[:12])
	case finished:
		u.log.Info("same content as a file already processed; writing its result without submitting again", "file", ev.Path)
		u.o.Finisher.FinishFile(ctx, key, ev.Path)
	default:
		u.log.Info("same content as a file already in progress; it will share that result", "file", ev.Path)
	}
	return nil
}

// detach removes a file's old life from its document (the file changed).
func (u *Uploader) detach(rec state.File) error {
	if rec.SHA256 == "" {
		return nil
	}
	key := state.DocKey(rec.ParserID, rec.SHA256)
	var drop bool
	err := u.st.Update(func(tx *state.Tx) error {
		d, ok, err := tx.Doc(key)
		if err != nil || !ok {
			return err
		}
		if err := tx.Detach(&d, rec.Path); err != nil {
			return err
		}
		if d.First == "" && d.State == state.DocQueued {
			drop = true
			d.Code, d.Message = "GONE", "every file with this content changed or was deleted before it was sent"
			return tx.FailDoc(d)
		}
		return tx.AmendDoc(d)
	})
	if err != nil {
		return fmt.Errorf("detach %s from its old content: %w", rec.Path, err)
	}
	if drop {
		u.unqueue(rec.ParserID, key)
	}
	return nil
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

// gone handles a file deleted from the inbox.
func (u *Uploader) gone(path string) error {
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
		if err := u.detach(rec); err != nil {
			return err
		}
		rec.Reason, rec.Updated = "deleted from the inbox before its result arrived", time.Now()
		u.log.Warn("file deleted before its result arrived; if it was already sent, its result is kept for the same content", "file", path)
		return u.st.Update(func(tx *state.Tx) error { return tx.MarkGone(rec) })
	default:
		// Finished files that leave the inbox need no tracking.
		return u.st.Update(func(tx *state.Tx) error { return tx.ForgetFile(path) })
	}
}
