package watcher_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/testlog"
	"github.com/ppsync/ppsync/internal/watcher"
)

// Everything known in an inbox gone at once, while its folder stays (an
// empty mount point, where the device cannot tell): unreachable, no Gone;
// a file appearing heals it.
func TestEverythingVanishedAtOnceIsUnreachable(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Watch = watcher.WatchPoll })
	a, b := filepath.Join(in.Path, "a.pdf"), filepath.Join(in.Path, "b.pdf")
	write(t, a, pdf(t))
	write(t, b, pdf(t))
	r := start(t, in, false)
	got := map[string]bool{}
	for range 2 {
		ev, ok := r.next(5 * time.Second)
		if !ok || ev.Kind != watcher.Ready {
			t.Fatalf("event %+v, want two Ready", ev)
		}
		got[ev.Path] = true
	}
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for r.w.Status().Rescans < 2 { // a full scan after both were reported
		if time.Now().After(deadline) {
			t.Fatal("no rescan")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for p := range got {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for r.w.Status().Healthy {
		if time.Now().After(deadline) {
			t.Fatal("an inbox emptied at once is still healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.w.Reachable(); !errors.Is(err, watcher.ErrVanished) {
		t.Errorf("Reachable = %v, want ErrVanished", err)
	}
	r.quiet(700 * time.Millisecond) // nothing taken for deleted

	c := filepath.Join(in.Path, "c.pdf")
	write(t, c, pdf(t))
	r.expectAmong(watcher.Ready, c, a, b)
}

// expectAmong waits for kind on want, accepting Gone for the others first
// (once the inbox is back, the files that really left are reported gone).
func (r *run) expectAmong(kind watcher.Kind, want string, others ...string) {
	r.t.Helper()
	for {
		ev, ok := r.next(5 * time.Second)
		if !ok {
			r.t.Fatalf("no %s %s", kind, want)
		}
		if ev.Kind == kind && ev.Path == want {
			return
		}
		if ev.Kind != watcher.Gone {
			r.t.Fatalf("event %s %s", ev.Kind, ev.Path)
		}
	}
}

// Whoever finds an inbox unreachable reports it through Reachable (the
// rescans, the result writer, the lease): many parts meeting one outage,
// again and again, log it once; the rescan that finds the inbox again logs
// its end once and makes it healthy.
func TestAnOutageMetByManyPartsIsLoggedOnce(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Watch = watcher.WatchPoll })
	logs := &testlog.Buffer{}
	w := watcher.New(watcher.Options{Inbox: in, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, make(chan watcher.Event, 100)) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(patience.Scale(5 * time.Second))
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 5 s; log:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil("a first listing", func() bool { return w.Status().Rescans > 0 })

	away := in.Path + ".away"
	if err := os.Rename(in.Path, away); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if w.Reachable() == nil {
					t.Error("Reachable = nil for a folder that is gone")
					return
				}
			}
		})
	}
	wg.Wait()
	if w.Status().Healthy {
		t.Error("the inbox is healthy after Reachable found it gone")
	}
	// Rescans meet it too (every 300 ms here) before it returns.
	began := w.Status().LastScan
	time.Sleep(patience.Scale(time.Second))
	if err := os.Rename(away, in.Path); err != nil {
		t.Fatal(err)
	}
	waitUntil("the inbox healthy again", func() bool { return w.Status().Healthy })
	if !w.Status().LastScan.After(began) {
		t.Error("the inbox was made healthy without a rescan")
	}
	if n := logs.Count("inbox is unreachable"); n != 1 {
		t.Errorf("the outage's start was logged %d times, want once; log:\n%s", n, logs.String())
	}
	if n := logs.Count("inbox is reachable again"); n != 1 {
		t.Errorf("the outage's end was logged %d times, want once; log:\n%s", n, logs.String())
	}
}
