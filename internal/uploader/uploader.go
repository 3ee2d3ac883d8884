// Package uploader takes a ready file to a submitted document: hash and
// validate locally, dedupe by content, check credits, batch per parser,
// commit the batch intent, submit, and record the outcome. It never writes
// result or error files and never moves files: every end of a file's life
// is handed to the finish stage.
//
// The package is split by concern: intake.go (watcher events to queued
// documents), batching.go (queued documents to committed batch intents),
// sending.go (intents to the API and back), split.go (refused batches),
// credits.go (the balance and what is reserved in flight), queue.go (the
// queued documents, a few bytes each), retry.go.
package uploader

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/filecheck"
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

// Finisher ends files' lives (the finish stage).
type Finisher interface {
	// FinishFile writes the result of one file (a copy that came after
	// the document finished) and touches no other file of the document.
	FinishFile(ctx context.Context, key, path string)
	// Failed fails documents the API refused and writes their error files.
	Failed(ctx context.Context, keys []string, code, msg string) error
	// Refused writes the error file of a file refused before upload.
	Refused(ctx context.Context, f state.File, code, msg string) error
	// AlreadyDone records a file done when its result is already on disk.
	AlreadyDone(f state.File) (bool, error)
	// Forget asks the watcher to report path again.
	Forget(path string)
}

// Inbox is what the uploader needs to know of an inbox.
type Inbox struct {
	Path     string
	ParserID string
	// Types are the accepted file-name patterns (filecheck.Options.Types);
	// empty means filecheck.DefaultTypes.
	Types []string
	// MaxPages refuses larger PDFs (0: no limit).
	MaxPages int
	// Targets are the folders the inbox's results and moved files are
	// written to; none means Path. They must take a new file before a file
	// of the inbox is taken in (see writable.go).
	Targets []string
}

// Options wires an Uploader.
type Options struct {
	Store    *state.Store
	API      API
	Inboxes  []Inbox // indexed by watcher.Event.Inbox
	Tracker  Tracker
	Finisher Finisher
	Logger   *slog.Logger

	// BatchWindow is how long the oldest queued file may wait for company.
	BatchWindow time.Duration
	// MaxBatchFiles and MaxBatchBytes bound one submission.
	MaxBatchFiles int
	MaxBatchBytes int64
	// MaxFileSize refuses larger files before upload.
	MaxFileSize int64
	// CreditRecheck is how often the balance is read while waiting for
	// credits, and the pause after a failed submission.
	CreditRecheck time.Duration

	// Once makes the uploader flush partial batches as soon as no more
	// files are coming, and stop waiting for credits that never come.
	Once bool
	// Senders is how many submissions may be in flight at once [4].
	Senders int
	// Settling reports how many files the watchers are still settling: a
	// partial batch does not go for a quiet moment while more are coming.
	Settling func() int
	// ProbeRetry is how often an inbox whose results cannot be written is
	// probed again (DefaultProbeRetry when zero).
	ProbeRetry time.Duration
	// Inspect hashes and validates a file: filecheck.Inspect when nil (a
	// test counts the passes over each file through it).
	Inspect func(path string, o filecheck.Options) (filecheck.Info, error)
}

// ErrUnauthorized is returned by Run when the API refuses the key.
var ErrUnauthorized = errors.New("the API refused the key")

// Uploader is the upload stage.
type Uploader struct {
	o   Options
	log *slog.Logger
	st  *state.Store

	// sendTicks counts the send loop's ticks, healTicks the heal loop's
	// (tests).
	sendTicks, healTicks atomic.Int64

	mu         sync.Mutex
	queue      queues    // per parser, FIFO
	lastQueued time.Time // when the newest document was queued
	credits    credits
	paused     time.Time        // no submissions before this (401, outages)
	held       map[string]*held // queued documents held back for credits, by key
	heldPass   uint64
	intents    []state.Batch
	sending    int
	intakeBusy atomic.Int64
	intakeDone atomic.Bool
	backlog    atomic.Int64 // events waiting in the intake channel
	fatal      chan error
	kick       chan struct{}
	sem        chan struct{}
	wg         sync.WaitGroup

	gate       *writeGate // the inboxes' result folders, probed (writable.go)
	unrecorded unrecorded // files intake could not record (--once; intake.go)

	changedMu sync.Mutex
	changed   chan struct{} // closed and replaced at every change of the work in hand

	// intakeWait, in tests, replaces intakeGroupWait.
	intakeWait time.Duration

	// partWritten, in tests, runs between the transactions of a record
	// written in parts ("intent", "answer"); an error stops the record
	// there, as a crash or a full disk would.
	partWritten func(what string) error
}

// New builds an uploader.
func New(o Options) *Uploader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Senders <= 0 {
		o.Senders = 4
	}
	if o.ProbeRetry <= 0 {
		o.ProbeRetry = DefaultProbeRetry
	}
	if o.MaxBatchFiles <= 0 || o.MaxBatchFiles > apitypes.MaxFilesPerSubmission {
		o.MaxBatchFiles = apitypes.MaxFilesPerSubmission
	}
	return &Uploader{
		o:       o,
		log:     o.Logger.With("component", "uploader"),
		st:      o.Store,
		queue:   newQueues(),
		fatal:   make(chan error, 1),
		kick:    make(chan struct{}, 1),
		sem:     make(chan struct{}, o.Senders),
		changed: make(chan struct{}),
		gate:    newWriteGate(len(o.Inboxes)),
	}
}

// wake makes the send loop look at the queue and tells watchers of Changed.
func (u *Uploader) wake() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
	u.changedMu.Lock()
	close(u.changed)
	u.changed = make(chan struct{})
	u.changedMu.Unlock()
}

// Changed returns a channel closed at the next change of the work in hand
// (take it before calling Idle, so no change is missed).
func (u *Uploader) Changed() <-chan struct{} {
	u.changedMu.Lock()
	defer u.changedMu.Unlock()
	return u.changed
}

// Recover loads unfinished work from the state: batch intents to replay
// first (with their original keys) and queued documents. It reads only the
// open records (state.Tx.OpenDocs), never every document ever seen.
func (u *Uploader) Recover() error {
	inBatch, marked := map[string]bool{}, map[string]bool{}
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
		if err := tx.OpenDocs(func(d state.Doc) error {
			if d.State == state.DocQueued || d.State == state.DocBatched && !inBatch[d.Key] {
				docs = append(docs, d)
			}
			return nil
		}); err != nil {
			return err
		}
		// Files marked as waiting for credits by an earlier run: their
		// documents count as held, so the mark is cleared when they go.
		return tx.OpenFiles(func(f state.File) error {
			if f.Code == CodeWaitingCredits && f.SHA256 != "" {
				marked[state.DocKey(f.ParserID, f.SHA256)] = true
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, d := range docs {
		if marked[d.Key] {
			if u.held == nil {
				u.held = map[string]*held{}
			}
			u.held[d.Key] = &held{parser: d.ParserID, pages: d.Pages, available: -1}
		}
	}
	sort.Slice(u.intents, func(i, j int) bool { return u.intents[i].Created.Before(u.intents[j].Created) })
	sort.Slice(docs, func(i, j int) bool { return docs[i].Updated.Before(docs[j].Updated) })
	for _, d := range docs {
		u.queue.of(d.ParserID).pushBack(u.queue.entry(d.ParserID, d, time.Now()))
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
	u.credits.observe(me.CreditsAvailable, time.Now())
	u.mu.Unlock()
	return me, nil
}

// Credits returns the last known balance and whether submissions wait for credits.
func (u *Uploader) Credits() (credits int, known, waiting bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.credits.balance, u.credits.known, u.credits.waiting
}

// Idle reports that nothing is queued, batched or being sent, and no file
// is held by the write gate. stuck is true when work remains but waits for
// credits, or (--once) only files of inboxes whose results could not be
// written for onceHoldProbes probes in a row remain (Leftover says which).
// A run that ends on either calls Leftover.
func (u *Uploader) Idle() (idle, stuck bool) {
	// The gate and intake are read first, together (see gateWork).
	waiting, left, busy := u.gateWork()
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.queue.Len()
	if busy || !u.intakeDone.Load() || waiting > 0 || u.sending > 0 || len(u.intents) > 0 {
		return false, false
	}
	if n == 0 {
		return left == 0, left > 0
	}
	return false, u.credits.waiting
}

// Leftover is what a --once run ends without: files waiting for credits,
// files held by the write gate (their results cannot be written), files
// whose record could not be written. None of them was sent or charged;
// the next run takes them.
type Leftover struct {
	Credits    bool
	Held       []HeldInbox
	Unrecorded []Unrecorded
}

// Leftover ends a --once run's work once Idle reported it idle or stuck,
// and reports what is left: from now on held files stay held even if their
// inbox heals. ok is false when files of an inbox that healed in between
// are on their way in: the run is not over, Idle will say when it is.
func (u *Uploader) Leftover() (l Leftover, ok bool) {
	u.gate.mu.Lock()
	u.gate.ended = true
	u.gate.mu.Unlock()
	if idle, stuck := u.Idle(); !idle && !stuck {
		return l, false
	}
	l = Leftover{Held: u.heldInboxes(), Unrecorded: u.unrecorded.list()}
	u.mu.Lock()
	l.Credits = u.queue.Len() > 0 && u.credits.waiting
	u.mu.Unlock()
	return l, true
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
// returns when ctx is done and every goroutine it started has returned.
func (u *Uploader) Run(ctx context.Context, events <-chan watcher.Event) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.sendLoop(ctx)
	}()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.healLoop(ctx)
	}()
	// Intake: files are hashed and validated on every core at once, then
	// handled one at a time in the order their events came, so the same
	// content twice still makes one document.
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *intakeItem)
	// Validated files wait here for their turn to be recorded; a group of
	// them is recorded in one transaction (intakeGroupMax).
	order := make(chan *intakeItem, max(workers, intakeGroupMax))
	var pool sync.WaitGroup
	for range workers {
		pool.Add(1)
		go func() {
			defer pool.Done()
			var buf []byte // allocated at the first file
			for it := range work {
				if buf == nil {
					buf = make([]byte, filecheck.BufferSize)
				}
				it.pre = u.inspect(it.ev, buf)
				close(it.done)
			}
		}()
	}
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		// The files validated are recorded in groups: what is validated
		// when the last is handled joins it in one transaction. When the
		// next event is not validated yet, the group is committed at once
		// if nothing else is on its way (a file alone is recorded as soon
		// as it is validated: idle latency does not grow), and otherwise
		// waits for the files on their way, at most groupWait from its
		// first file, or until it is full. Events count as busy until
		// their group is committed.
		var g intakeGroup
		var deadline <-chan time.Time
		commit := func() {
			u.commitIntake(ctx, &g)
			deadline = nil
			n := int64(g.handled)
			g.handled = 0
			u.backlog.Store(int64(len(events)))
			if n > 0 && u.intakeBusy.Add(-n) == 0 && len(events) == 0 {
				u.wake()
			}
		}
		// more reports that the group should wait for files on their way.
		more := func() bool {
			return len(g.writes) > 0 && deadline != nil && (u.intakeBusy.Load() > int64(g.handled) || len(events) > 0)
		}
		defer commit()
		for {
			if len(g.writes) > 0 && deadline == nil {
				deadline = time.After(u.groupWait())
			}
			var it *intakeItem
			select {
			case it = <-order:
			default:
				if more() {
					select {
					case it = <-order:
					case <-deadline:
					}
				}
				if it == nil {
					commit()
					it = <-order
				}
			}
			if it == nil {
				return // order closed
			}
			select {
			case <-it.done:
			default:
				waited := false
				if more() {
					select {
					case <-it.done:
						waited = true
					case <-deadline:
					}
				}
				if !waited {
					commit()
					<-it.done
				}
			}
			if ctx.Err() == nil {
				u.handleIn(ctx, it.ev, it.pre, &g)
			}
			g.handled++
			if g.full() {
				commit()
			}
		}
	}()
	stop := func() {
		close(work)
		close(order)
		pool.Wait()
		<-committed
	}
	// take passes one event, counted in intakeBusy, to the workers and
	// then to its turn; it reports false when ctx ended first.
	take := func(ev watcher.Event) bool {
		it := &intakeItem{ev: ev, done: make(chan struct{})}
		select {
		case work <- it:
		case <-ctx.Done():
			u.intakeBusy.Add(-1)
			return false
		}
		select {
		case order <- it:
			return true
		case <-ctx.Done():
			u.intakeBusy.Add(-1)
			return false
		}
	}
	// Intake stays open once the events end: the write gate may take
	// held files in again (--once, see writable.go) until ctx ends.
	in := events
	for {
		select {
		case <-ctx.Done():
			stop()
			u.wg.Wait()
			return
		case <-u.gate.retry:
			evs := u.takeAgain()
			for i, ev := range evs {
				if !take(ev) {
					u.intakeBusy.Add(-int64(len(evs) - i - 1)) // the rest, not taken either
					break
				}
			}
		case ev, ok := <-in:
			if !ok {
				in = nil
				u.intakeDone.Store(true)
				u.wake()
				continue
			}
			u.intakeBusy.Add(1)
			take(ev)
		}
	}
}

// intakeItem is one event on its way through intake.
type intakeItem struct {
	ev   watcher.Event
	pre  inspected
	done chan struct{} // closed once pre is set
}
