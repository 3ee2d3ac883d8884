package finish

import (
	"context"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// A batch groups the outputs of the results finished together (one poll's
// documents, one retry of everything pending): each output is written
// (temp file, fsync, rename), then each folder they went to is synced
// once, then they are recorded and handed on. The state records a file
// done only after its folder's sync, as before; what changes is that a
// folder holding many results is synced once for all of them, so the cost
// of a result does not grow with the size of the batch or of the folder.
//
// The batch holds the writer lock of each document it wrote for until it
// is flushed, so no other writer writes those files again meanwhile. It
// never waits on a lock while holding one: a lock held elsewhere, or one
// of its own needed again, flushes the batch first.
type batch struct {
	f     *Finisher
	syncs results.DirSyncs
	items []batchItem
	keys  map[string]*batchKey
	order []string
	// made are the folders this batch wrote a file into: they exist, and
	// the next output there is written without a stat of the folder.
	made map[string]bool
}

// inFolder is the package's inFolder for the batch's outputs: a folder the
// batch already wrote into is not looked up again. A folder removed since
// fails the write, which is retried (and the folder made) later.
func (b *batch) inFolder(out string, write func() error) error {
	dir := filepath.Dir(out)
	if b.made[dir] {
		return write()
	}
	if err := inFolder(out, write); err != nil {
		return err
	}
	if b.made == nil {
		b.made = map[string]bool{}
	}
	b.made[dir] = true
	return nil
}

// batchItem is an output written and not yet recorded.
type batchItem struct {
	key    string
	rec    state.File // as it is to be recorded
	out    string
	doc    json.RawMessage
	ok     bool // a result (else an error file)
	o      outcome
	last   bool
	folder string
	gone   bool // the file was deleted: recorded gone, nothing written
}

// batchKey is what a batch knows of one document key.
type batchKey struct {
	unlock func()
	// settle, when set, runs at the flush with whether every file of the
	// key written in the batch was recorded.
	settle func(ok bool)
	ok     bool
}

type batchCtxKey struct{}

// Batch runs fn with a context under which the results finished (Done,
// Failed, FinishFile, RetryPending) are written, then synced once per
// folder, then recorded, when fn returns. A Batch inside a Batch joins it.
func (f *Finisher) Batch(ctx context.Context, fn func(ctx context.Context)) {
	if b, ok := ctx.Value(batchCtxKey{}).(*batch); ok && b.f == f {
		fn(ctx)
		return
	}
	b := f.newBatch()
	defer b.flush(ctx)
	fn(context.WithValue(ctx, batchCtxKey{}, b))
}

func (f *Finisher) newBatch() *batch {
	b := &batch{f: f, keys: map[string]*batchKey{}}
	b.syncs.Sync = f.o.SyncDir
	return b
}

// batchOf is ctx's batch, or a batch of its own the caller flushes.
func (f *Finisher) batchOf(ctx context.Context) (b *batch, own bool) {
	if b, ok := ctx.Value(batchCtxKey{}).(*batch); ok && b.f == f {
		return b, false
	}
	return f.newBatch(), true
}

// lock makes the batch the writer of key's files until its flush.
func (b *batch) lock(ctx context.Context, key string) {
	if _, held := b.keys[key]; held {
		b.flush(ctx) // its files are read again only once recorded
	}
	unlock, ok := b.f.tryLockKey(key)
	if !ok {
		b.flush(ctx) // wait holding nothing
		unlock = b.f.lockKey(key)
	}
	b.keys[key] = &batchKey{unlock: unlock, ok: true}
	b.order = append(b.order, key)
}

// settle sets what runs for key at the flush.
func (b *batch) settle(key string, fn func(ok bool)) {
	if k := b.keys[key]; k != nil {
		k.settle = fn
	}
}

// fail marks key as not finished in this batch.
func (b *batch) fail(key string) {
	if k := b.keys[key]; k != nil {
		k.ok = false
	}
}

// addGone records rec gone (deleted before its result) in turn with the
// files written.
func (b *batch) addGone(it batchItem) {
	it.gone = true
	b.items = append(b.items, it)
}

func (b *batch) add(it batchItem) {
	it.folder = filepath.Dir(it.out)
	b.syncs.Add(it.folder)
	b.items = append(b.items, it)
}

// flush syncs the folders written to, records what was written, hands it
// on, settles each key and lets go of their locks.
func (b *batch) flush(ctx context.Context) {
	f := b.f
	failed := b.syncs.Flush()
	// What is recorded: the files gone, and the outputs whose folder was
	// synced. They are recorded in one transaction (state.UpdateEach, in
	// parts over a large state: a record refused is refused alone, the
	// others stand).
	var rec []batchItem
	for _, it := range b.items {
		if err := failed[it.folder]; !it.gone && err != nil {
			f.writeErrors.Add(1)
			f.log.Error("result written but its folder cannot be synced; it is written again",
				"file", it.rec.Path, "error", results.Describe("writing", it.folder, err))
			b.keys[it.key].ok = false
			continue
		}
		rec = append(rec, it)
	}
	// A key's last file drops its stored result when every file of the key
	// before it was recorded: in the one transaction (or parts that each
	// committed whole), all were. When the records are written again one
	// by one (one was refused), an earlier one may have failed, so the
	// result is kept (it is dropped with the next file of the same
	// content).
	prev, oneByOne := -1, false
	errs := f.st.UpdateEach(len(rec), func(tx *state.Tx, i int) error {
		// The transactions run the records in order; running one at or
		// before the last one run means they are now written one by one.
		if i <= prev {
			oneByOne = true
		}
		prev = i
		it := rec[i]
		return recordFile(tx, it.rec, it.key, it.last && b.keys[it.key].ok && !oneByOne)
	})
	var moved []movedFile
	for i, it := range rec {
		k := b.keys[it.key]
		if err := errs[i]; err != nil {
			if it.gone {
				f.log.Error("cannot record a deleted file; retrying", "file", it.rec.Path, "error", err)
			} else {
				f.log.Error("result written but not recorded; it is written again", "file", it.rec.Path, "error", err)
			}
			k.ok = false
			continue
		}
		switch {
		case it.gone:
			f.log.Warn("file deleted before its result was written; a later file with the same content gets the result without being charged again", "file", it.rec.Path)
			continue
		case it.ok:
			f.log.Info("result written", "file", it.rec.Path, "result", it.out)
		case it.o.unavailable:
			f.log.Error("the earlier result of the same content is gone; error file written (nothing charged)", "file", it.rec.Path, "code", it.rec.Code)
		default:
			f.log.Warn("document failed; error file written", "file", it.rec.Path, "code", it.rec.Code, "reason", it.rec.Reason)
		}
		if rec, i, ok := f.afterMove(ctx, it.rec, it.out, it.doc, it.ok); ok {
			moved = append(moved, movedFile{rec: rec, inbox: i})
		}
	}
	f.recordMoves(ctx, moved)
	for _, key := range b.order {
		k := b.keys[key]
		if k.settle != nil {
			k.settle(k.ok)
		}
		k.unlock()
	}
	b.items, b.keys, b.order, b.made = nil, map[string]*batchKey{}, nil, nil
}

// now is the Finisher's clock.
func (f *Finisher) now() time.Time {
	if f.o.Now != nil {
		return f.o.Now()
	}
	return time.Now()
}
