// Package uploader takes a ready file to a submitted document: hash and
// validate locally, dedupe by content, check credits, batch per parser,
// commit the batch intent, submit, and record the outcome. It never writes
// result files for finished documents (the poller does), only error files
// for files refused locally and results for duplicates of finished content.
package uploader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// API is what the uploader needs from the client.
type API interface {
	Me(ctx context.Context) (apitypes.User, error)
	Submit(ctx context.Context, parserID, idempotencyKey string, files []api.Upload) (api.Submission, error)
}

// Tracker is told about every accepted submission (the poller).
type Tracker interface {
	Track(extractionID string, docKeys map[string]string) // document id -> doc key
}

// Finisher completes files whose document is already finished (the poller's
// result writer), and fails documents the API refused.
type Finisher interface {
	FinishDoc(ctx context.Context, key string)
}

// Forgetter lets the uploader ask the watcher to report a path again.
type Forgetter interface {
	Forget(inbox int, path string)
}

// Options wires an Uploader.
type Options struct {
	Store    *state.Store
	API      API
	Inboxes  []config.Inbox
	Upload   config.Upload
	Tracker  Tracker
	Finisher Finisher
	Watcher  Forgetter
	Logger   *slog.Logger
	// Once makes the uploader flush partial batches as soon as no more
	// files are coming, and stop waiting for credits that never come.
	Once bool
	// Senders is how many submissions may be in flight at once [4].
	Senders int
	// OnFinished is called after a file refused locally gets its error file.
	OnFinished func(f state.File, doc json.RawMessage)
	// Settling reports how many files the watchers are still settling: a
	// partial batch does not go for a quiet moment while more are coming.
	Settling func() int
}

// ErrUnauthorized is returned by Run when the API refuses the key.
var ErrUnauthorized = errors.New("the API refused the key")

// Uploader is the upload stage.
type Uploader struct {
	o   Options
	log *slog.Logger
	st  *state.Store

	mu          sync.Mutex
	queue       map[string][]queued // per parser, FIFO
	lastQueued  time.Time           // when the newest document was queued
	credits     int
	creditsOK   bool // credits is a known value
	reserved    int  // pages of batches in flight
	waitCredits bool
	lastCheck   time.Time
	paused      time.Time // no submissions before this (401, outages)
	intents     []state.Batch
	sending     int
	intakeBusy  atomic.Int64
	intakeDone  atomic.Bool
	backlog     atomic.Int64 // events waiting in the intake channel
	fatal       chan error
	kick        chan struct{}
	sem         chan struct{}
	wg          sync.WaitGroup
}

type queued struct {
	key   string
	pages int
	size  int64
	at    time.Time
}

// New builds an uploader.
func New(o Options) *Uploader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Senders <= 0 {
		o.Senders = 4
	}
	return &Uploader{
		o:     o,
		log:   o.Logger.With("component", "uploader"),
		st:    o.Store,
		queue: map[string][]queued{},
		fatal: make(chan error, 1),
		kick:  make(chan struct{}, 1),
		sem:   make(chan struct{}, o.Senders),
	}
}

func (u *Uploader) wake() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Recover loads unfinished work from the state: batch intents to replay
// first (with their original keys) and queued documents.
func (u *Uploader) Recover() error {
	inBatch := map[string]bool{}
	var docs []state.Doc
	err := u.st.View(func(tx *state.Tx) error {
		if err := tx.Batches(func(b state.Batch) error {
			u.intents = append(u.intents, b)
			for _, k := range b.Docs {
				inBatch[k] = true
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Docs(func(d state.Doc) error {
			if d.State == state.DocQueued || d.State == state.DocBatched && !inBatch[d.Key] {
				docs = append(docs, d)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	sort.Slice(u.intents, func(i, j int) bool { return u.intents[i].Created.Before(u.intents[j].Created) })
	sort.Slice(docs, func(i, j int) bool { return docs[i].Updated.Before(docs[j].Updated) })
	for _, d := range docs {
		u.queue[d.ParserID] = append(u.queue[d.ParserID], queued{key: d.Key, pages: d.Pages, size: d.Size, at: time.Now()})
	}
	if n := len(u.intents); n > 0 {
		u.log.Info("replaying submissions interrupted by a restart, with their original idempotency keys", "batches", n)
	}
	return nil
}

// Preflight checks the key and reads the credit balance.
func (u *Uploader) Preflight(ctx context.Context) (apitypes.User, error) {
	me, err := u.o.API.Me(ctx)
	if err != nil {
		return me, err
	}
	u.mu.Lock()
	u.credits, u.creditsOK, u.lastCheck = me.CreditsAvailable, true, time.Now()
	u.mu.Unlock()
	return me, nil
}

// Credits returns the last known balance and whether submissions wait for credits.
func (u *Uploader) Credits() (credits int, known, waiting bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.credits, u.creditsOK, u.waitCredits
}

// Idle reports that nothing is queued, batched or being sent. stuck is true
// when work remains but waits for credits.
func (u *Uploader) Idle() (idle, stuck bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, q := range u.queue {
		n += len(q)
	}
	busy := u.intakeBusy.Load() > 0 || !u.intakeDone.Load()
	if busy || u.sending > 0 || len(u.intents) > 0 {
		return false, false
	}
	if n == 0 {
		return true, false
	}
	return false, u.waitCredits
}

// IntakeClosed tells the uploader no more files are coming (what closing
// the events channel of Run does).
func (u *Uploader) IntakeClosed() {
	u.intakeDone.Store(true)
	u.wake()
}

// Fatal delivers an error that should stop the run (the key was refused).
func (u *Uploader) Fatal() <-chan error { return u.fatal }

// Run consumes watcher events and submits batches until ctx ends. It
// returns when events is closed and ctx is done.
func (u *Uploader) Run(ctx context.Context, events <-chan watcher.Event) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.sendLoop(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			u.wg.Wait()
			return
		case ev, ok := <-events:
			if !ok {
				u.intakeDone.Store(true)
				u.wake()
				events = nil
				continue
			}
			u.intakeBusy.Add(1)
			u.handle(ctx, ev)
			u.backlog.Store(int64(len(events)))
			u.intakeBusy.Add(-1)
			if len(events) == 0 {
				u.wake()
			}
		}
	}
}

// --- intake ---------------------------------------------------------------

func (u *Uploader) handle(ctx context.Context, ev watcher.Event) {
	in := u.o.Inboxes[ev.Inbox]
	var err error
	switch ev.Kind {
	case watcher.Ready:
		err = u.ready(ctx, ev, in)
	case watcher.Incomplete:
		err = u.refuse(ev, in, "INCOMPLETE_FILE", ev.Reason, state.File{})
	case watcher.Gone:
		err = u.gone(ev.Path)
	}
	if err != nil {
		u.log.Error("cannot record a file; it is looked at again at the next rescan", "file", ev.Path, "error", err)
		if u.o.Watcher != nil {
			u.o.Watcher.Forget(ev.Inbox, ev.Path)
		}
	}
}

func (u *Uploader) ready(ctx context.Context, ev watcher.Event, in config.Inbox) error {
	mtime := ev.ModTime.UnixNano()
	var rec state.File
	var known bool
	if err := u.st.View(func(tx *state.Tx) error {
		var err error
		rec, known, err = tx.File(ev.Path)
		return err
	}); err != nil {
		return err
	}
	if known && rec.Size == ev.Size && rec.ModTime == mtime && rec.ParserID == in.ParserID && rec.State != state.FileGone {
		return nil // unchanged since it was handled: never rehash
	}
	now := time.Now()
	f := state.File{Path: ev.Path, Inbox: in.Path, ParserID: in.ParserID, Size: ev.Size, ModTime: mtime, FirstSeen: now, Updated: now}
	if known {
		f.FirstSeen = rec.FirstSeen
		if err := u.detach(rec); err != nil {
			return err
		}
	}
	info, err := pdfcheck.Inspect(ev.Path, u.o.Upload.MaxFileSize.Bytes)
	var p *pdfcheck.Problem
	switch {
	case errors.As(err, &p):
		f.SHA256, f.Size = info.SHA256, info.Size
		return u.refuse(ev, in, p.Code, p.Message, f)
	case errors.Is(err, os.ErrNotExist):
		return nil // deleted while settling: the watcher reports it gone
	case err != nil:
		return fmt.Errorf("read %s: %w", ev.Path, err)
	}
	f.SHA256, f.Pages, f.Size = info.SHA256, info.Pages, info.Size
	key := state.DocKey(in.ParserID, info.SHA256)

	// A result already on disk for this exact content (the state was lost or
	// rebuilt): recognise it rather than pay again.
	if src, ok := results.ReadResultSource(ev.Path); ok && src.SHA256 == info.SHA256 {
		f.State, f.Result = state.FileDone, results.ResultPath(ev.Path)
		u.log.Info("result already on disk for this content; not submitting again", "file", ev.Path)
		return u.st.Update(func(tx *state.Tx) error { return tx.PutFile(f) })
	}

	var finished, fresh bool
	err = u.st.Update(func(tx *state.Tx) error {
		d, ok, err := tx.Doc(key)
		if err != nil {
			return err
		}
		if !ok {
			d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages, State: state.DocQueued}
			fresh = true
		} else if d.Retry && (d.State == state.DocFailed || d.State == state.DocDone) {
			d = state.Doc{Key: key, ParserID: in.ParserID, SHA256: info.SHA256, Size: info.Size, Pages: info.Pages,
				State: state.DocQueued, Retries: d.Retries + 1}
			fresh = true
		}
		if !slices.Contains(d.Files, ev.Path) {
			d.Files = append(d.Files, ev.Path)
		}
		d.Updated = now
		f.State = state.FileQueued
		if !fresh && len(d.Files) > 1 {
			f.State = state.FileDuplicate
		}
		finished = d.State == state.DocDone || d.State == state.DocFailed
		if err := tx.PutDoc(d); err != nil {
			return err
		}
		return tx.PutFile(f)
	})
	if err != nil {
		return err
	}
	switch {
	case fresh:
		u.mu.Lock()
		u.queue[in.ParserID] = append(u.queue[in.ParserID], queued{key: key, pages: info.Pages, size: info.Size, at: now})
		u.lastQueued = time.Now()
		u.mu.Unlock()
		u.log.Debug("queued", "file", ev.Path, "pages", info.Pages, "sha256", info.SHA256[:12])
	case finished:
		u.log.Info("same content as a file already processed; writing its result without submitting again", "file", ev.Path)
		u.o.Finisher.FinishDoc(ctx, key)
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
		d.Files = slices.DeleteFunc(d.Files, func(p string) bool { return p == rec.Path })
		if len(d.Files) == 0 && d.State == state.DocQueued {
			drop = true
			d.State = state.DocFailed
			d.Code, d.Message = "GONE", "every file with this content changed or was deleted before it was sent"
		}
		return tx.PutDoc(d)
	})
	if drop {
		u.unqueue(rec.ParserID, key)
	}
	return err
}

func (u *Uploader) unqueue(parser, key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.queue[parser] = slices.DeleteFunc(u.queue[parser], func(q queued) bool { return q.key == key })
}

// refuse writes <file>.error.json for a file that will never be uploaded as it is.
func (u *Uploader) refuse(ev watcher.Event, in config.Inbox, code, msg string, f state.File) error {
	now := time.Now()
	if f.Path == "" {
		f = state.File{Path: ev.Path, Inbox: in.Path, ParserID: in.ParserID, Size: ev.Size, ModTime: ev.ModTime.UnixNano(), FirstSeen: now}
	}
	out, err := results.WriteError(ev.Path, code, msg, results.Source{Path: ev.Path, SHA256: f.SHA256, Size: f.Size})
	if err != nil {
		return err
	}
	f.State, f.Code, f.Reason, f.Result, f.Updated = state.FileInvalid, code, msg, out, now
	u.log.Warn("file refused before upload (no credits spent); see its error file", "file", ev.Path, "code", code, "reason", msg)
	if err := u.st.Update(func(tx *state.Tx) error { return tx.PutFile(f) }); err != nil {
		return err
	}
	if u.o.OnFinished != nil {
		u.o.OnFinished(f, nil)
	}
	if in.After == "move" {
		MoveOut(u.log, u.st, ev.Path, in.Path, in.FailedDir)
	}
	return nil
}

// MoveOut moves a finished file (and its result or error file) out of the
// inbox into dest, for after = "move", and forgets its record.
func MoveOut(log *slog.Logger, st *state.Store, path, inboxRoot, dest string) {
	moved, err := results.Move(path, inboxRoot, dest)
	if err != nil {
		log.Warn("cannot move a finished file out of the inbox; it stays where it is", "file", path, "error", err)
		return
	}
	log.Debug("moved", "file", path, "to", moved)
	_ = st.Update(func(tx *state.Tx) error { return tx.DeleteFile(path) })
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
	switch rec.State {
	case state.FileQueued, state.FileDuplicate:
		if err := u.detach(rec); err != nil {
			return err
		}
		rec.State, rec.Reason, rec.Updated = state.FileGone, "deleted from the inbox before its result arrived", time.Now()
		u.log.Warn("file deleted before its result arrived; if it was already sent, its result is kept for the same content", "file", path)
		return u.st.Update(func(tx *state.Tx) error { return tx.PutFile(rec) })
	default:
		// Finished files that leave the inbox need no tracking.
		return u.st.Update(func(tx *state.Tx) error { return tx.DeleteFile(path) })
	}
}

// --- batching and sending ----------------------------------------------------

func (u *Uploader) sendLoop(ctx context.Context) {
	tick := time.NewTicker(clampDur(u.o.Upload.BatchWindow.Duration/10, 20*time.Millisecond, 100*time.Millisecond))
	defer tick.Stop()
	// Interrupted submissions go first, with their original keys.
	u.mu.Lock()
	replay := slices.Clone(u.intents)
	for _, b := range replay {
		u.sending++
		u.reserved += b.Pages
	}
	u.mu.Unlock()
	for _, b := range replay {
		u.launch(ctx, b)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.kick:
		case <-tick.C:
		}
		u.refreshCredits(ctx)
		for {
			b, ok := u.form()
			if !ok {
				break
			}
			u.launch(ctx, b)
		}
	}
}

func clampDur(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

// quietPeriod is how long the queue must stay unchanged before a partial
// batch goes: an eighth of the batch window, between 50 and 300 ms.
func quietPeriod(window time.Duration) time.Duration {
	return clampDur(window/8, 50*time.Millisecond, 300*time.Millisecond)
}

// refreshCredits rechecks the balance while submissions wait for credits.
func (u *Uploader) refreshCredits(ctx context.Context) {
	u.mu.Lock()
	due := u.waitCredits && time.Since(u.lastCheck) >= u.o.Upload.CreditRecheck.Duration
	if due {
		u.lastCheck = time.Now()
	}
	u.mu.Unlock()
	if !due {
		return
	}
	me, err := u.o.API.Me(ctx)
	if err != nil {
		u.log.Warn("cannot check the credit balance; trying again later", "error", err, "retry_in", u.o.Upload.CreditRecheck.Duration)
		return
	}
	u.mu.Lock()
	u.credits, u.creditsOK = me.CreditsAvailable-u.reserved, true
	u.mu.Unlock()
	u.log.Debug("credit balance", "credits", me.CreditsAvailable)
}

// form takes queued documents of one parser into a batch intent, committed
// to the state before anything is sent.
func (u *Uploader) form() (state.Batch, bool) {
	u.mu.Lock()
	if time.Now().Before(u.paused) {
		u.mu.Unlock()
		return state.Batch{}, false
	}
	flushAll := u.o.Once && u.intakeDone.Load() && u.intakeBusy.Load() == 0
	// A batch goes when it is full, when its oldest file has waited the
	// batch window, or when no file has joined the queue for a moment
	// (a lone file is not held back waiting for company).
	quiet := time.Since(u.lastQueued) >= quietPeriod(u.o.Upload.BatchWindow.Duration) && u.intakeBusy.Load() == 0 &&
		u.backlog.Load() == 0 && (u.o.Settling == nil || u.o.Settling() == 0)
	var parser string
	for p, q := range u.queue {
		if len(q) == 0 {
			continue
		}
		if len(q) >= u.o.Upload.MaxBatchFiles || time.Since(q[0].at) >= u.o.Upload.BatchWindow.Duration || flushAll || quiet {
			parser = p
			break
		}
	}
	if parser == "" {
		u.mu.Unlock()
		return state.Batch{}, false
	}
	q := u.queue[parser]
	var take []queued
	var pages int
	var size int64
	for _, d := range q {
		if len(take) == u.o.Upload.MaxBatchFiles || len(take) > 0 && size+d.size > u.o.Upload.MaxBatchBytes.Bytes {
			break
		}
		if u.creditsOK && pages+d.pages > u.credits {
			break
		}
		take = append(take, d)
		pages += d.pages
		size += d.size
	}
	if len(take) == 0 {
		if !u.waitCredits {
			u.waitCredits = true
			u.log.Warn("not enough credits: submissions wait and resume by themselves when credits are added",
				"credits", u.credits, "needed_for_next_file", q[0].pages, "recheck_every", u.o.Upload.CreditRecheck.Duration)
		}
		u.mu.Unlock()
		return state.Batch{}, false
	}
	if u.waitCredits {
		u.waitCredits = false
		u.log.Info("credits available again; resuming submissions", "credits", u.credits)
	}
	u.queue[parser] = q[len(take):]
	u.credits -= pages
	u.reserved += pages
	u.sending++
	u.mu.Unlock()

	b, err := u.commitIntent(parser, take)
	if err != nil {
		u.log.Error("cannot record a submission intent; not sending", "error", err)
		u.mu.Lock()
		u.queue[parser] = append(take, u.queue[parser]...)
		u.credits += pages
		u.reserved -= pages
		u.sending--
		u.paused = time.Now().Add(u.o.Upload.CreditRecheck.Duration)
		u.mu.Unlock()
		return state.Batch{}, false
	}
	return b, true
}

// IdempotencyKey derives a batch's key from what it sends: the parser and
// the sorted content hashes (with a retry generation for documents sent
// again on request). The same content always gets the same key.
func IdempotencyKey(parserID string, shas []string) string {
	s := slices.Clone(shas)
	sort.Strings(s)
	h := sha256.New()
	io.WriteString(h, parserID)
	for _, x := range s {
		io.WriteString(h, "\n"+x)
	}
	return "ppsync-" + hex.EncodeToString(h.Sum(nil))
}

func (u *Uploader) commitIntent(parser string, take []queued) (state.Batch, error) {
	b := state.Batch{ParserID: parser, Created: time.Now()}
	var shas []string
	err := u.st.Update(func(tx *state.Tx) error {
		b.Docs, b.Paths, b.Names, shas, b.Pages, b.Bytes = nil, nil, nil, nil, 0, 0
		for _, q := range take {
			d, ok, err := tx.Doc(q.key)
			if err != nil {
				return err
			}
			if !ok || d.State != state.DocQueued || len(d.Files) == 0 {
				continue
			}
			b.Docs = append(b.Docs, d.Key)
			b.Paths = append(b.Paths, d.Files[0])
			b.Names = append(b.Names, filepath.Base(d.Files[0]))
			b.Pages += d.Pages
			b.Bytes += d.Size
			shas = append(shas, d.KeyPart())
		}
		if len(b.Docs) == 0 {
			return nil
		}
		b.Key = IdempotencyKey(parser, shas)
		for _, k := range b.Docs {
			d, _, _ := tx.Doc(k)
			d.State, d.Batch, d.Updated = state.DocBatched, b.Key, time.Now()
			if err := tx.PutDoc(d); err != nil {
				return err
			}
		}
		return tx.PutBatch(b)
	})
	if err == nil && len(b.Docs) == 0 {
		err = errors.New("no document of the batch is still queued")
	}
	return b, err
}

func (u *Uploader) launch(ctx context.Context, b state.Batch) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		select {
		case u.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-u.sem }()
		u.send(ctx, b)
	}()
}

// send submits one batch intent and records the outcome.
func (u *Uploader) send(ctx context.Context, b state.Batch) {
	replay := b.Attempts > 0
	done := func() {
		u.mu.Lock()
		u.reserved -= b.Pages
		u.sending--
		u.intents = slices.DeleteFunc(u.intents, func(x state.Batch) bool { return x.Key == b.Key })
		u.mu.Unlock()
		u.wake()
	}
	if !u.registered(b) {
		u.mu.Lock()
		u.intents = append(u.intents, b)
		u.mu.Unlock()
	}
	uploads := make([]api.Upload, len(b.Docs))
	var shas []string
	if err := u.st.Update(func(tx *state.Tx) error {
		b.Attempts++
		for _, k := range b.Docs {
			d, _, err := tx.Doc(k)
			if err != nil {
				return err
			}
			shas = append(shas, d.SHA256)
		}
		return tx.PutBatch(b)
	}); err != nil {
		u.log.Error("cannot record a submission attempt; retrying later", "error", err)
		u.retryLater(ctx, b, done)
		return
	}
	for i := range b.Docs {
		path := b.Paths[i]
		uploads[i] = api.Upload{Name: b.Names[i], SHA256: shas[i], Open: func() (io.ReadCloser, error) { return os.Open(path) }}
	}
	sub, err := u.o.API.Submit(ctx, b.ParserID, b.Key, uploads)
	if ctx.Err() != nil {
		done() // the intent stays in the state and is replayed at the next start
		return
	}
	var fc *api.FileChangedError
	var se *api.SourceError
	switch {
	case err == nil:
		u.recordSubmitted(ctx, b, sub, replay)
		done()
	case api.IsInsufficientCredits(err):
		u.log.Warn("the API says credits are too low for this batch; it waits and resumes by itself", "files", len(b.Docs), "pages", b.Pages)
		u.mu.Lock()
		u.credits, u.creditsOK, u.waitCredits, u.lastCheck = 0, true, true, time.Now()
		u.mu.Unlock()
		u.dissolve(b, "")
		done()
	case api.IsUnauthorized(err):
		u.log.Error("the API refused the key; submissions are paused", "error", err)
		select {
		case u.fatal <- fmt.Errorf("%w: %v", ErrUnauthorized, err):
		default:
		}
		u.retryLater(ctx, b, done)
	case api.IsParserProblem(err):
		u.failBatch(ctx, b, err)
		done()
	case api.IsBadFile(err):
		u.split(ctx, b, err)
		done()
	case errors.As(err, &fc), errors.As(err, &se):
		var changed string
		if fc != nil {
			changed = pathByName(b, fc.Name)
		} else {
			changed = pathByName(b, se.Name)
		}
		u.log.Warn("a file changed or vanished while it was being sent; the upload was aborted before it completed and nothing was charged",
			"file", changed, "error", err)
		u.dissolve(b, changed)
		done()
	default:
		u.log.Warn("submission failed; it will be retried with the same idempotency key", "files", len(b.Docs), "error", err)
		u.retryLater(ctx, b, done)
	}
}

func (u *Uploader) registered(b state.Batch) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.ContainsFunc(u.intents, func(x state.Batch) bool { return x.Key == b.Key })
}

func pathByName(b state.Batch, name string) string {
	for i, n := range b.Names {
		if n == name {
			return b.Paths[i]
		}
	}
	return ""
}

// retryLater keeps the intent and sends it again after a pause.
func (u *Uploader) retryLater(ctx context.Context, b state.Batch, done func()) {
	wait := u.o.Upload.CreditRecheck.Duration
	u.mu.Lock()
	u.paused = time.Now().Add(wait)
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			done()
			return
		case <-t.C:
		}
		if fresh, ok := u.reload(b.Key); ok {
			u.send(ctx, fresh)
			return
		}
		done()
	}()
}

func (u *Uploader) reload(key string) (state.Batch, bool) {
	var b state.Batch
	var ok bool
	_ = u.st.View(func(tx *state.Tx) error {
		var err error
		b, ok, err = tx.Batch(key)
		return err
	})
	return b, ok
}

// recordSubmitted matches the answer's documents to the batch and hands
// the job to the poller.
func (u *Uploader) recordSubmitted(ctx context.Context, b state.Batch, sub api.Submission, replay bool) {
	x := sub.Extraction
	byIndex := len(x.Documents) == len(b.Docs)
	ids := map[string]string{}
	var requeue []string
	now := time.Now()
	err := u.st.Update(func(tx *state.Tx) error {
		used := map[int]bool{}
		for i, k := range b.Docs {
			d, ok, err := tx.Doc(k)
			if err != nil || !ok {
				return err
			}
			docID := ""
			if byIndex {
				docID = x.Documents[i].DocumentID
			} else {
				for j, ad := range x.Documents {
					if !used[j] && ad.Filename == b.Names[i] {
						used[j], docID = true, ad.DocumentID
						break
					}
				}
			}
			if docID == "" {
				// Not part of the job the key maps to: send it again later.
				d.State, d.Batch = state.DocQueued, ""
				requeue = append(requeue, k)
			} else {
				d.State, d.ExtractionID, d.DocumentID, d.SubmittedAt = state.DocSubmitted, x.ExtractionID, docID, now
				ids[docID] = k
			}
			d.Updated = now
			if err := tx.PutDoc(d); err != nil {
				return err
			}
		}
		return tx.DeleteBatch(b.Key)
	})
	if err != nil {
		u.log.Error("submitted, but cannot record it; the batch is replayed with the same key at the next start", "extraction_id", x.ExtractionID, "error", err)
		return
	}
	u.mu.Lock()
	if x.CreditsRemaining != nil {
		u.credits, u.creditsOK = *x.CreditsRemaining-(u.reserved-b.Pages), true
	}
	credits := u.credits
	u.mu.Unlock()
	u.requeue(b.ParserID, requeue)
	if replay && sub.Replayed {
		u.log.Info("recovered a submission interrupted by a restart (not charged again)", "extraction_id", x.ExtractionID, "files", len(ids))
	} else {
		u.log.Info("submitted", "extraction_id", x.ExtractionID, "files", len(ids), "pages", x.PageCount, "credits_left", credits)
	}
	if len(ids) > 0 {
		u.o.Tracker.Track(x.ExtractionID, ids)
	}
}

func (u *Uploader) requeue(parser string, keys []string) {
	if len(keys) == 0 {
		return
	}
	var qs []queued
	_ = u.st.View(func(tx *state.Tx) error {
		for _, k := range keys {
			if d, ok, _ := tx.Doc(k); ok {
				qs = append(qs, queued{key: k, pages: d.Pages, size: d.Size, at: time.Now()})
			}
		}
		return nil
	})
	u.mu.Lock()
	u.queue[parser] = append(qs, u.queue[parser]...)
	u.mu.Unlock()
	u.wake()
}

// dissolve deletes an intent the server refused without charging, and puts
// its documents back in the queue. changed names a file that changed or
// vanished: it leaves its document, which is dropped if no file remains.
func (u *Uploader) dissolve(b state.Batch, changed string) {
	var back []string
	err := u.st.Update(func(tx *state.Tx) error {
		for _, k := range b.Docs {
			d, ok, err := tx.Doc(k)
			if err != nil || !ok {
				continue
			}
			if changed != "" {
				d.Files = slices.DeleteFunc(d.Files, func(p string) bool { return p == changed })
			}
			d.Batch, d.Updated = "", time.Now()
			if len(d.Files) == 0 {
				d.State, d.Code, d.Message = state.DocFailed, "GONE", "every file with this content changed or was deleted before it was sent"
			} else {
				d.State = state.DocQueued
				back = append(back, k)
			}
			if err := tx.PutDoc(d); err != nil {
				return err
			}
		}
		return tx.DeleteBatch(b.Key)
	})
	if err != nil {
		u.log.Error("cannot update the state after a refused submission; it is replayed at the next start", "error", err)
		return
	}
	if changed != "" && u.o.Watcher != nil {
		for i, in := range u.o.Inboxes {
			if isWithin(changed, in.Path) {
				u.o.Watcher.Forget(i, changed)
			}
		}
	}
	u.requeue(b.ParserID, back)
}

func isWithin(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && len(rel) > 0 && rel[0] != '.'
}

// split isolates the file(s) the API refuses: halves are submitted as new
// batches (new content, new key) until a single bad file remains, which fails.
func (u *Uploader) split(ctx context.Context, b state.Batch, cause error) {
	if len(b.Docs) == 1 {
		u.failBatch(ctx, b, cause)
		return
	}
	u.log.Warn("the API refused a batch because of a file in it; splitting it to find that file", "files", len(b.Docs), "error", cause)
	mid := len(b.Docs) / 2
	halves := []state.Batch{sub(b, 0, mid), sub(b, mid, len(b.Docs))}
	err := u.st.Update(func(tx *state.Tx) error {
		if err := tx.DeleteBatch(b.Key); err != nil {
			return err
		}
		for i := range halves {
			var shas []string
			for _, k := range halves[i].Docs {
				d, _, err := tx.Doc(k)
				if err != nil {
					return err
				}
				shas = append(shas, d.KeyPart())
				halves[i].Pages += d.Pages
				halves[i].Bytes += d.Size
			}
			halves[i].Key = IdempotencyKey(b.ParserID, shas)
			for _, k := range halves[i].Docs {
				d, _, _ := tx.Doc(k)
				d.Batch = halves[i].Key
				if err := tx.PutDoc(d); err != nil {
					return err
				}
			}
			if err := tx.PutBatch(halves[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		u.log.Error("cannot record the split batches; they are retried at the next start", "error", err)
		return
	}
	for _, h := range halves {
		u.mu.Lock()
		u.sending++
		u.reserved += h.Pages
		u.intents = append(u.intents, h)
		u.mu.Unlock()
		u.send(ctx, h)
	}
}

func sub(b state.Batch, i, j int) state.Batch {
	return state.Batch{ParserID: b.ParserID, Docs: slices.Clone(b.Docs[i:j]), Paths: slices.Clone(b.Paths[i:j]),
		Names: slices.Clone(b.Names[i:j]), Created: time.Now()}
}

// failBatch fails every document of b with the API's error.
func (u *Uploader) failBatch(ctx context.Context, b state.Batch, cause error) {
	code, msg := "SUBMISSION_REFUSED", cause.Error()
	var ae *api.Error
	if errors.As(cause, &ae) {
		code = ae.Code
	}
	if api.IsParserProblem(cause) {
		msg += ". Fix parser_id for this inbox in the config, then run 'ppsync retry --failed'"
	}
	err := u.st.Update(func(tx *state.Tx) error {
		for _, k := range b.Docs {
			d, ok, err := tx.Doc(k)
			if err != nil || !ok {
				continue
			}
			d.State, d.Code, d.Message, d.Batch, d.Updated = state.DocFailed, code, msg, "", time.Now()
			if err := tx.PutDoc(d); err != nil {
				return err
			}
		}
		return tx.DeleteBatch(b.Key)
	})
	if err != nil {
		u.log.Error("cannot record refused documents", "error", err)
		return
	}
	u.log.Error("the API refused files; see their error files", "files", len(b.Docs), "code", code, "error", cause)
	for _, k := range b.Docs {
		u.o.Finisher.FinishDoc(ctx, k)
	}
}

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
