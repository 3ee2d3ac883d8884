package watcher

import (
	"context"
	"log/slog"
	"time"

	"github.com/ppsync/ppsync/internal/filecheck"
)

// closeGrace is how long a file reported closed by its writer or renamed
// into the inbox must keep its size and mtime before it is ready (at most
// half of settle): long enough for a writer that saves incrementally
// (signs, annotates: a complete PDF, closed, re-opened and extended with an
// update and a new %%EOF) to come back, so the file is one life and one
// document, not one per save; short beside settle.
const closeGrace = time.Second

// grace is closeGrace, or half of settle when that is shorter.
func (w *Watcher) grace() time.Duration { return min(closeGrace, w.in.Settle/2) }

// closeSource reports files whose writer closed them after writing, or
// that were renamed into a watched folder (inotify's IN_CLOSE_WRITE and
// IN_MOVED_TO on Linux; none elsewhere).
type closeSource interface {
	Add(dir string) error
	Paths() <-chan string
	Close() error
}

// fastLane makes a file ready as soon as the OS says its writer is done
// and it is complete by its format, instead of after settle. Files without
// such news (network shares, writers that pause, files found by rescans)
// keep the settle rule. A nil *fastLane does nothing.
type fastLane struct {
	src     closeSource
	log     *slog.Logger
	pending map[string]closed
	timer   *time.Timer
	warned  bool
}

type closed struct {
	stamp
	due time.Time
}

// newFastLane returns nil where the platform has no close-write events or
// they cannot be had (the files then settle).
func newFastLane(log *slog.Logger) *fastLane {
	src, err := newCloseWatch()
	if err != nil {
		log.Warn("cannot watch for files closed by their writers; every file waits settle", "error", watchErr(err))
	}
	if src == nil {
		return nil
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &fastLane{src: src, log: log, pending: map[string]closed{}, timer: t}
}

// add watches dir too; a failure only means files there settle.
func (f *fastLane) add(dir string) {
	if f == nil {
		return
	}
	if err := f.src.Add(dir); err != nil && !f.warned {
		f.warned = true
		f.log.Warn("cannot watch a folder for files closed by their writers; files there wait settle", "folder", dir, "error", watchErr(err))
	}
}

func (f *fastLane) close() {
	if f != nil {
		f.timer.Stop()
		_ = f.src.Close()
	}
}

func (f *fastLane) paths() <-chan string {
	if f == nil {
		return nil
	}
	return f.src.Paths()
}

func (f *fastLane) due() <-chan time.Time {
	if f == nil {
		return nil
	}
	return f.timer.C
}

// onClosed takes the news that p was closed by its writer or renamed in:
// p becomes a candidate (it settles if nothing else happens) and is looked
// at again after the grace period.
func (w *Watcher) onClosed(p string) {
	f := w.fast
	if w.deaf || !w.matches(p) {
		return
	}
	s, kind, err := w.lstat(p)
	if err != nil || kind != kindFile || s.size == 0 {
		return
	}
	w.observe(p)
	if !w.cands.has(p) {
		return // reported already with this size and mtime
	}
	due := time.Now().Add(w.grace())
	if len(f.pending) == 0 {
		f.timer.Reset(w.grace())
	}
	f.pending[p] = closed{s, due}
}

// confirmClosed makes ready the closed files whose size and mtime held for
// the grace period, that no one holds open for writing any more and that
// are complete by their format; the others are left to settle (or to their
// next close).
func (w *Watcher) confirmClosed(ctx context.Context, out chan<- Event) {
	f := w.fast
	now := time.Now()
	var next time.Time
	for p, c := range f.pending {
		if c.due.After(now) {
			if next.IsZero() || c.due.Before(next) {
				next = c.due
			}
			continue
		}
		delete(f.pending, p)
		cd := w.cands.ptr(p)
		if cd == nil {
			continue // gone, or reported meanwhile
		}
		s, kind, err := w.lstat(p)
		if err != nil || kind != kindFile || s != c.stamp {
			continue
		}
		if openForWriting(p) {
			continue // another writer still holds it: its close says when
		}
		if done, err := filecheck.Complete(p); err != nil || !done.Complete {
			continue
		}
		seen := w.seen(p, cd)
		w.cands.del(p)
		w.unsample(p)
		w.emitted.set(p, c.stamp)
		w.setStatus(func(*Status) {})
		w.send(ctx, out, Event{Kind: Ready, Inbox: w.o.Index, Path: p, Size: c.size, ModTime: time.Unix(0, c.mtime), Identity: w.identity(c.stamp), Seen: seen})
	}
	if !next.IsZero() {
		f.timer.Reset(next.Sub(now))
	}
}
