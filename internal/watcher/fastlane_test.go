package watcher_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/watcher"
)

// longSettle is far beyond every deadline below: a file reported within
// them was made ready by its writer's close or its rename, not by settling.
const longSettle = 5 * time.Second

// fastDeadline is how soon a closed or renamed-in file must be ready: the
// grace period a writer has to re-open it (1 s) and a second's margin.
const fastDeadline = 2 * time.Second

func needCloseEvents(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("only Linux (inotify) reports files closed by their writer or renamed in; elsewhere every file settles")
	}
}

// startWatching starts a watcher with a long settle and waits until its
// folder watches are in place, so no drop can precede them.
func startWatching(t *testing.T, mutate func(*watcher.Inbox)) (watcher.Inbox, *run) {
	t.Helper()
	in := inbox(t, func(i *watcher.Inbox) {
		i.Settle = longSettle
		i.IncompleteAfter = time.Minute
		if mutate != nil {
			mutate(i)
		}
	})
	r := start(t, in, false)
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for r.w.Status().Mode == "" {
		if time.Now().After(deadline) {
			t.Fatal("watcher never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return in, r
}

// expectSoon waits for Ready on p no longer than fastDeadline after since.
func (r *run) expectSoon(p string, since time.Time) watcher.Event {
	r.t.Helper()
	ev, ok := r.next(fastDeadline - time.Since(since))
	if !ok {
		r.t.Fatalf("%s not ready within %s of its close or rename (settle is %s)", filepath.Base(p), fastDeadline, longSettle)
	}
	if ev.Kind != watcher.Ready || ev.Path != p {
		r.t.Fatalf("event %s %s, want ready %s", ev.Kind, ev.Path, p)
	}
	return ev
}

// withoutEOF cuts b before its last %%EOF: a PDF whose copy stopped short.
func withoutEOF(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(b, []byte("%%EOF"))
	if i < 0 {
		t.Fatal("sample PDF has no end-of-file marker")
	}
	return b[:i]
}

func TestClosedOrRenamedInFileIsReadyBeforeSettle(t *testing.T) {
	needCloseEvents(t)
	for _, tc := range []struct {
		name string
		drop func(t *testing.T, p string, b []byte)
	}{
		{"create, write, close", func(t *testing.T, p string, b []byte) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"write a temp name, rename in", func(t *testing.T, p string, b []byte) {
			if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"write elsewhere, move in", func(t *testing.T, p string, b []byte) {
			src := filepath.Join(t.TempDir(), "scan.pdf")
			if err := os.WriteFile(src, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(src, p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, r := startWatching(t, nil)
			p := filepath.Join(in.Path, "invoice.pdf")
			b := pdf(t)
			tc.drop(t, p, b)
			done := time.Now()
			ev := r.expectSoon(p, done)
			if ev.Size != int64(len(b)) {
				t.Errorf("size = %d, want %d", ev.Size, len(b))
			}
			r.quiet(300 * time.Millisecond) // reported once
		})
	}
}

func TestClosedFileInNewSubfolderIsReadyBeforeSettle(t *testing.T) {
	needCloseEvents(t)
	in, r := startWatching(t, func(i *watcher.Inbox) { i.Recursive = true })
	sub := filepath.Join(in.Path, "2026")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// The new folder is watched when its event is handled; a file closed
	// before that settles. Give the watcher a moment, then drop.
	time.Sleep(200 * time.Millisecond)
	p := filepath.Join(sub, "deep.pdf")
	write(t, p, pdf(t))
	r.expectSoon(p, time.Now())
}

func TestChangedAfterReadyIsReadyAgain(t *testing.T) {
	needCloseEvents(t)
	in, r := startWatching(t, nil)
	p := filepath.Join(in.Path, "invoice.pdf")
	write(t, p, pdf(t))
	first := r.expectSoon(p, time.Now())
	// Rewritten in place with other content: a new life, reported anew.
	b := append(pdf(t), []byte("\n% revised\n%%EOF\n")...)
	write(t, p, b)
	ev := r.expectSoon(p, time.Now())
	if ev.Size == first.Size || ev.Size != int64(len(b)) {
		t.Errorf("second report size = %d, want %d (first was %d)", ev.Size, len(b), first.Size)
	}
}

func TestFilesWithoutCloseOrCompletenessWaitSettle(t *testing.T) {
	t.Run("left open by its writer", func(t *testing.T) {
		in, r := startWatching(t, nil)
		p := filepath.Join(in.Path, "scanning.pdf")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// Complete by its format, but the writer still holds it open (it
		// may append an incremental update): it waits settle.
		if _, err := f.Write(pdf(t)); err != nil {
			t.Fatal(err)
		}
		r.quiet(1500 * time.Millisecond)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS == "linux" {
			r.expectSoon(p, time.Now())
		}
	})
	t.Run("closed without %%EOF", func(t *testing.T) {
		in, r := startWatching(t, nil)
		p := filepath.Join(in.Path, "cut.pdf")
		b := pdf(t)
		write(t, p, withoutEOF(t, b))
		r.quiet(1500 * time.Millisecond)
		if st := r.w.Status(); st.Settling != 1 {
			t.Errorf("settling = %d, want 1 (the cut file waits settle and incomplete_after)", st.Settling)
		}
		// The rest arrives and the writer closes it again.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b[len(withoutEOF(t, b)):]); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS == "linux" {
			r.expectSoon(p, time.Now())
		}
	})
	t.Run("closed but empty", func(t *testing.T) {
		in, r := startWatching(t, nil)
		write(t, filepath.Join(in.Path, "empty.pdf"), nil)
		r.quiet(1500 * time.Millisecond)
	})
}

func TestShareWithoutEventsWaitsSettle(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) {
		i.Settle = longSettle
		i.RescanInterval = 100 * time.Millisecond
	})
	w := watcher.NewDeaf(watcher.Options{Inbox: in})
	r := startWith(t, w)
	p := filepath.Join(in.Path, "remote.pdf")
	write(t, p, pdf(t))
	// Found by a rescan, closed long ago as far as anyone here can tell:
	// it settles.
	r.quiet(1500 * time.Millisecond)
	if st := r.w.Status(); st.Settling != 1 {
		t.Errorf("settling = %d, want 1", st.Settling)
	}
}

// startWith runs an already built watcher until the test ends.
func startWith(t *testing.T, w *watcher.Watcher) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, w: w, events: make(chan watcher.Event, 100), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx, r.events) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}
