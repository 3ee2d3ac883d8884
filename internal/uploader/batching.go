package uploader

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func (u *Uploader) sendLoop(ctx context.Context) {
	every := clampDur(quietPeriod(u.o.BatchWindow)/2, 20*time.Millisecond, 100*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	ticking := true
	// Interrupted submissions go first, with their original keys.
	u.mu.Lock()
	replay := slices.Clone(u.intents)
	for _, b := range replay {
		u.sending++
		u.credits.reserve(b.Pages)
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
			u.sendTicks.Add(1)
		}
		u.refreshCredits(ctx)
		for {
			b, ok := u.form()
			if !ok {
				break
			}
			u.launch(ctx, b)
		}
		// The tick sends what time makes due (a batch whose oldest file
		// waited the batch window, a partial batch once the queue is
		// quiet, a recheck of the balance): with nothing queued nothing
		// can fall due, and the first document queued wakes the loop
		// (intake, a batch put back). An idle daemon does not tick.
		u.mu.Lock()
		idle := u.queue.Len() == 0
		u.mu.Unlock()
		switch {
		case idle && ticking:
			tick.Stop()
			ticking = false
		case !idle && !ticking:
			tick.Reset(every)
			ticking = true
		}
	}
}

func clampDur(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

// quietPeriod is how long the queue must stay unchanged, with nothing
// settling or being hashed, before a partial batch goes: a sixteenth of the
// batch window, between 50 and 150 ms. Files still arriving keep the
// watcher's settling count above zero, so a burst still goes together.
func quietPeriod(window time.Duration) time.Duration {
	return clampDur(window/16, 50*time.Millisecond, 150*time.Millisecond)
}

// refreshCredits rechecks the balance while submissions wait for credits.
func (u *Uploader) refreshCredits(ctx context.Context) {
	u.mu.Lock()
	due := u.credits.recheckDue(time.Now(), u.o.CreditRecheck)
	u.mu.Unlock()
	if !due {
		return
	}
	me, err := u.o.API.Me(ctx)
	if err != nil {
		u.log.Warn("cannot check the credit balance; trying again later", "error", err, "retry_in", u.o.CreditRecheck)
		return
	}
	u.mu.Lock()
	u.credits.observe(me.CreditsAvailable, time.Now())
	u.mu.Unlock()
	u.log.Debug("credit balance", "credits", me.CreditsAvailable)
}

// pick chooses the documents of a parser's queue that go in the next
// batch: in queue order, at most maxFiles, at most maxBytes (a lone larger
// file goes alone), within the credits, and never two under the same
// upload name (a later one waits for the next batch; names are compared
// by their hash, see queued). A document that does not fit the credits
// left is passed over, not waited on: the smaller ones behind it go ahead
// (no head-of-line blocking); held are the ones passed over because they
// need more than the whole balance, which only a top-up lets go. full
// reports that every queued document was looked at. The documents taken
// leave q; the others stay in q in their order.
func pick(q *fifo, maxFiles int, maxBytes int64, c *credits) (take []queued, pages int, held []queued, full bool) {
	names := make(map[uint32]bool, min(maxFiles, q.Len()))
	take = make([]queued, 0, min(maxFiles, q.Len()))
	var idx []int
	var size int64
	full = true
	for i := range q.Len() {
		d := *q.at(i)
		if len(take) == maxFiles || len(take) > 0 && size+d.size > maxBytes {
			full = false
			break
		}
		if !c.fits(pages, int(d.pages)) {
			if int(d.pages) > c.balance {
				held = append(held, d)
			}
			continue
		}
		if names[d.name] {
			continue
		}
		names[d.name] = true
		take = append(take, d)
		idx = append(idx, i)
		pages += int(d.pages)
		size += d.size
	}
	q.removeAt(idx)
	return take, pages, held, full
}

// form takes queued documents of one parser into a batch intent, committed
// to the state before anything is sent.
func (u *Uploader) form() (state.Batch, bool) {
	u.mu.Lock()
	if time.Now().Before(u.paused) {
		u.mu.Unlock()
		return state.Batch{}, false
	}
	// Batches are formed at most one round of senders ahead of the ones
	// sending: the rest of a backlog waits in the queue, a few bytes a
	// document, not as batch intents each held by a goroutine.
	if u.sending >= 2*cap(u.sem) {
		u.mu.Unlock()
		return state.Batch{}, false
	}
	flushAll := u.o.Once && u.intakeDone.Load() && u.intakeBusy.Load() == 0
	// A batch goes when it is full, when its oldest file has waited the
	// batch window, or when no file has joined the queue for a moment
	// (a lone file is not held back waiting for company).
	quiet := time.Since(u.lastQueued) >= quietPeriod(u.o.BatchWindow) && u.intakeBusy.Load() == 0 &&
		u.backlog.Load() == 0 && (u.o.Settling == nil || u.o.Settling() == 0)
	now := time.Now()
	var ready []string
	for p, q := range u.queue.byParser {
		if q.Len() == 0 {
			continue
		}
		if q.Len() >= u.o.MaxBatchFiles || u.queue.age(q.front(), now) >= u.o.BatchWindow || flushAll || quiet {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		u.mu.Unlock()
		return state.Batch{}, false
	}
	// Every parser ready is tried in turn (in the map's random order, so
	// none goes first every time): one whose documents do not fit the
	// credits does not hold back another's (every inbox goes on).
	var parser string
	var take []queued
	var pages int
	var marks []waitMark
	var stuck []queued // the first document of each parser none of whose fits
	for _, p := range ready {
		q := u.queue.of(p)
		var heldNow []queued
		var full bool
		if u.credits.known && u.credits.balance <= 0 {
			// Nothing fits: the queue is not walked (a backlog may be long);
			// the files already marked keep their marks, with the balance.
			full = false
		} else {
			take, pages, heldNow, full = pick(q, u.o.MaxBatchFiles, u.o.MaxBatchBytes, &u.credits)
		}
		marks = append(marks, u.noteHeld(p, heldNow, take, full)...)
		if len(take) > 0 {
			parser = p
			break
		}
		stuck = append(stuck, q.front())
	}
	if parser == "" {
		if !u.credits.waiting {
			u.credits.waiting = true
			u.log.Warn("not enough credits for any queued file: submissions wait and resume by themselves when credits are added",
				"credits", max(u.credits.balance, 0), "needed_for_next_file", int(stuck[0].pages), "recheck_every", u.o.CreditRecheck)
			defer u.wake()
		}
		u.mu.Unlock()
		u.writeMarks(marks)
		return state.Batch{}, false
	}
	defer u.writeMarks(marks)
	if u.credits.waiting {
		u.credits.waiting = false
		u.log.Info("credits available again; resuming submissions", "credits", u.credits.balance)
	}
	keys := make([]string, len(take))
	for i, e := range take {
		keys[i] = u.queue.key(parser, e)
	}
	u.queue.release(take)
	u.credits.reserve(pages)
	u.sending++
	u.mu.Unlock()

	b, left, err := u.commitIntent(parser, keys)
	if len(left) > 0 {
		u.requeue(parser, left)
	}
	if errors.Is(err, errNothingQueued) {
		u.mu.Lock()
		u.credits.release(pages)
		u.sending--
		u.mu.Unlock()
		u.wake()
		return state.Batch{}, false
	}
	if err != nil {
		u.log.Error("cannot record a submission intent; not sending", "error", err)
		u.mu.Lock()
		for i, k := range keys {
			take[i].sha = u.queue.hold(parser, k)
		}
		u.queue.of(parser).pushFront(take)
		u.credits.release(pages)
		u.sending--
		u.paused = time.Now().Add(u.o.CreditRecheck)
		u.mu.Unlock()
		return state.Batch{}, false
	}
	if b.Pages != pages {
		u.mu.Lock()
		u.credits.release(pages - b.Pages)
		u.mu.Unlock()
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

// errNothingQueued means every document taken for a batch left the queue
// in the state meanwhile (its files changed or vanished).
var errNothingQueued = errors.New("no document of the batch is still queued")

// errChoiceChanged means a document changed between two parts of a batch
// intent's record: the batch is chosen again.
var errChoiceChanged = errors.New("a document of the batch changed while its intent was recorded")

// docsPerWrite is how many documents one state transaction records while a
// batch intent is written or a submission's answer recorded. Documents are
// keyed by content hash, so each sits on a leaf of its own; bbolt's commit
// reads the old page of every leaf it rewrites, and the kernel maps the
// 64 KiB around each page it reads in. Fifty documents in one commit mapped
// about 12 MiB of the state file at once; ten map about 2.
const docsPerWrite = 10

// queuedIn reports that d may go into a new batch: it is queued, or it was
// marked for a batch whose intent was never written (the process stopped,
// or the state could not be written, between the parts of its record).
func queuedIn(tx *state.Tx, d state.Doc) (bool, error) {
	switch {
	case d.First == "":
		return false, nil
	case d.State == state.DocQueued:
		return true, nil
	case d.State != state.DocBatched:
		return false, nil
	}
	_, intent, err := tx.Batch(d.Batch)
	return !intent, err
}

// commitIntent records the batch intent of the documents of take (keys).
// Documents no longer queued are left out; a document whose upload name is
// already in the batch (the state changed since it was queued, or two
// names share a hash) is returned in left to be queued again.
//
// The documents are marked in parts of docsPerWrite, the intent itself with
// the last part: until then nothing is sent, and a document marked for an
// intent that does not exist counts as queued (queuedIn; Recover queues it
// again after a restart). If a document changes between two parts, the
// batch is chosen again; the third try records everything in one
// transaction.
func (u *Uploader) commitIntent(parser string, take []string) (state.Batch, []string, error) {
	per := docsPerWrite
	for try := 1; ; try++ {
		if try == 3 {
			per = len(take)
		}
		b, left, err := u.writeIntent(parser, take, per)
		if errors.Is(err, errChoiceChanged) {
			continue
		}
		if err != nil {
			return b, nil, fmt.Errorf("commit batch intent of %d files: %w", len(take), err)
		}
		if len(b.Docs) == 0 {
			return b, left, errNothingQueued
		}
		return b, left, nil
	}
}

// writeIntent chooses the batch among take, computes its key and records it,
// per documents a transaction.
func (u *Uploader) writeIntent(parser string, take []string, per int) (b state.Batch, left []string, err error) {
	var docs []state.Doc
	err = u.st.Update(func(tx *state.Tx) error {
		var err error
		b, docs, left, err = chooseBatch(tx, parser, take)
		if err != nil || len(docs) == 0 {
			return err
		}
		return markBatched(tx, b, docs, 0, min(per, len(docs)))
	})
	for i := per; err == nil && i < len(docs); i += per {
		j := min(i+per, len(docs))
		if u.partWritten != nil {
			if err = u.partWritten("intent"); err != nil {
				break
			}
		}
		err = u.st.Update(func(tx *state.Tx) error {
			for k := i; k < j; k++ {
				d, ok, err := tx.Doc(docs[k].Key)
				if err != nil {
					return err
				}
				if q, err := queuedIn(tx, d); err != nil || !ok || !q || !sameChoice(d, docs[k]) {
					return cmp.Or(err, errChoiceChanged)
				}
				docs[k] = d
			}
			return markBatched(tx, b, docs, i, j)
		})
	}
	return b, left, err
}

// chooseBatch picks the documents of take that go in the batch, in order.
func chooseBatch(tx *state.Tx, parser string, take []string) (b state.Batch, docs []state.Doc, left []string, err error) {
	b = state.Batch{ParserID: parser, Created: time.Now()}
	var shas []string
	names := map[string]bool{}
	for _, k := range take {
		d, ok, err := tx.Doc(k)
		if err != nil {
			return b, nil, nil, err
		}
		q, err := queuedIn(tx, d)
		if err != nil {
			return b, nil, nil, err
		}
		if !ok || !q {
			continue
		}
		name := uploadName(d)
		if names[name] {
			left = append(left, d.Key)
			continue
		}
		names[name] = true
		b.Docs = append(b.Docs, d.Key)
		b.Paths = append(b.Paths, d.First)
		b.Names = append(b.Names, name)
		b.Pages += d.Pages
		b.Bytes += d.Size
		shas = append(shas, d.KeyPart())
		docs = append(docs, d)
	}
	if len(docs) > 0 {
		b.Key = IdempotencyKey(parser, shas)
	}
	return b, docs, left, nil
}

// sameChoice reports that d still goes into its batch as it was chosen.
func sameChoice(d, chosen state.Doc) bool {
	return d.First == chosen.First && d.KeyPart() == chosen.KeyPart() && d.Pages == chosen.Pages && d.Size == chosen.Size
}

// markBatched marks docs[i:j] as in b, and writes b's intent with the last
// of its documents.
func markBatched(tx *state.Tx, b state.Batch, docs []state.Doc, i, j int) error {
	now := time.Now()
	for k := i; k < j; k++ {
		d := docs[k]
		d.Batch, d.UploadName, d.Updated = b.Key, b.Names[k], now
		if err := tx.MarkBatched(d); err != nil {
			return err
		}
	}
	if j < len(docs) {
		return nil
	}
	return tx.PutBatch(b)
}
