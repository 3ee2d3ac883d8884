package watcher

import (
	"context"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/fsinfo"
)

// NewDeaf builds a watcher whose file events never arrive, like a network
// share written by another machine.
func NewDeaf(o Options) *Watcher {
	w := New(o)
	w.deaf = true
	return w
}

// ScanSettled scans once and marks every candidate as reported, so a
// benchmark can time rescans of unchanged files.
func (w *Watcher) ScanSettled() error {
	out := make(chan Event, 1)
	go func() {
		for range out {
		}
	}()
	defer close(out)
	if err := w.scan(context.Background(), out); err != nil {
		return err
	}
	for p, c := range w.cands.all() {
		w.emitted.set(p, c.stamp)
		w.cands.del(p)
	}
	return nil
}

// Rescan runs one full rescan and returns how many files were candidates afterwards.
func (w *Watcher) Rescan() (int, error) {
	out := make(chan Event, 1)
	err := w.scan(context.Background(), out)
	return w.cands.len(), err
}

// NewOnShare builds a watcher whose inbox is taken for a network
// filesystem of kind (fsinfo injected) that sends no change events.
func NewOnShare(o Options, kind string) *Watcher {
	o.FS = func(string) (fsinfo.Info, error) { return fsinfo.Info{Network: true, Kind: kind}, nil }
	w := New(o)
	w.deaf = true
	return w
}

// FreezeStamps makes the watcher see every file's mtime and ctime as they
// were when it first looked: an SMB server that updates them only when
// the writer closes the file. Call it before Run.
func (w *Watcher) FreezeStamps() {
	frozen := map[string]stamp{} // only Run's goroutine stats
	w.lstat = func(p string) (stamp, fileKind, error) {
		s, k, err := lstatPath(p)
		if err != nil || k != kindFile {
			return s, k, err
		}
		if f, ok := frozen[p]; ok {
			s.mtime, s.id = f.mtime, f.id
		} else {
			frozen[strings.Clone(p)] = s
		}
		return s, k, nil
	}
}

// Backdate makes the watcher as if started d ago. Call it before Run.
func (w *Watcher) Backdate(d time.Duration) { w.epoch = w.epoch.Add(-d) }

// PolledAsShare makes the watcher poll as a network inbox in watch =
// "auto" does (Run decides it; this is for tests that call Rescan).
func (w *Watcher) PolledAsShare() {
	w.adaptive = true
	w.rescan = min(pollFloor, w.in.RescanInterval)
}

// CountStats counts the entries the watcher stats; the returned func
// reads the count (call it from the goroutine that scans, or after Run).
func (w *Watcher) CountStats() func() int {
	n := 0
	inner := w.lstat
	w.lstat = func(p string) (stamp, fileKind, error) {
		n++
		return inner(p)
	}
	return func() int { return n }
}

// SlowStats makes every stat take d more: a share far away.
func (w *Watcher) SlowStats(d time.Duration) {
	inner := w.lstat
	w.lstat = func(p string) (stamp, fileKind, error) {
		time.Sleep(d)
		return inner(p)
	}
}

// SweptAgo moves the last sweep (a listing that stats every document) d
// into the past.
func (w *Watcher) SweptAgo(d time.Duration) { w.swept = w.swept.Add(-d) }

// Adapt sets the cadence as after a listing that took took, and returns it.
func (w *Watcher) Adapt(took time.Duration) time.Duration {
	w.adapt(took)
	return w.rescan
}

// ListingFloor is the earliest a file first sighted at first can have
// arrived, had the listings begun at begins.
func (w *Watcher) ListingFloor(begins []time.Time, first time.Time) time.Time {
	w.begins = begins
	return w.listingFloor(first)
}

// SettleTicks is how many settle ticks Run has handled.
func (w *Watcher) SettleTicks() int64 { return w.ticks.Load() }
