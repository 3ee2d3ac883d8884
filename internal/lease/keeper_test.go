package lease_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/watcher"
)

// handBack records the inboxes whose files were handed back.
type handBack struct {
	mu     sync.Mutex
	inbox  []string
	queued []string
}

func (h *handBack) HandBack(inbox string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inbox = append(h.inbox, inbox)
	return h.queued, nil
}

func (h *handBack) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.inbox)
}

// thief plays another ppsync on another machine that holds dir's lease
// and renews it until the returned function is called.
func thief(t *testing.T, dir string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		h := lease.Holder{ID: "thief", Instance: "0123456789abcdef0123456789abcdef", Machine: "m2", Host: "other", PID: 4242}
		for ctx.Err() == nil {
			h.Beat++
			b, _ := json.Marshal(h)
			_ = results.WriteAtomic(filepath.Join(dir, lease.FileName), b)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeeperStopsAHeldInboxAndTakesItBack runs a keeper over two inboxes,
// one held by another live ppsync: that inbox's files are handed back and
// its events held, the other's pass; once the other ppsync stops, the
// lease is taken back, Healed is called, and every lease is released when
// Run returns.
func TestKeeperStopsAHeldInboxAndTakesItBack(t *testing.T) {
	dir := t.TempDir()
	free, held := filepath.Join(dir, "free"), filepath.Join(dir, "held")
	for _, d := range []string{free, held} {
		if err := mkdir(d); err != nil {
			t.Fatal(err)
		}
	}
	stopThief := thief(t, held)
	ws := []*watcher.Watcher{
		watcher.New(watcher.Options{Index: 0, Inbox: watcher.Inbox{Path: free}}),
		watcher.New(watcher.Options{Index: 1, Inbox: watcher.Inbox{Path: held}}),
	}
	hb := &handBack{queued: []string{filepath.Join(held, "queued.pdf")}}
	in, out := make(chan watcher.Event, 4), make(chan watcher.Event, 4)
	var healed atomic.Int32
	k := lease.NewKeeper(lease.KeeperOptions{StatePath: filepath.Join(dir, "state.db"), TTL: 600 * time.Millisecond, Watchers: ws,
		Store: hb, In: in, Out: out, Healed: func(i int) {
			if i == 1 {
				healed.Add(1)
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k.Recover(ctx); err != nil {
		t.Fatalf("Recover = %v, want the held inbox stopped, not an error", err)
	}
	if k.Fault(0) != nil || !errors.Is(k.Fault(1), lease.ErrHeld) {
		t.Fatalf("faults after Recover: free %v, held %v", k.Fault(0), k.Fault(1))
	}
	if hb.count() == 0 || len(k.Problems()) != 1 {
		t.Fatalf("the held inbox's files were not handed back (%d) or it is not a problem: %q", hb.count(), k.Problems())
	}
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	in <- watcher.Event{Inbox: 1, Path: filepath.Join(held, "new.pdf")}
	in <- watcher.Event{Inbox: 0, Path: filepath.Join(free, "a.pdf")}
	select {
	case ev := <-out:
		if ev.Inbox != 0 {
			t.Fatalf("an event of the held inbox went on: %+v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the free inbox's event did not go on")
	}
	stopThief()
	waitUntil(t, "the lease taken back", func() bool { return k.Fault(1) == nil && healed.Load() > 0 })
	if !exists(filepath.Join(held, lease.FileName)) {
		t.Fatal("no lease file in the inbox taken back")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, d := range []string{free, held} {
		if exists(filepath.Join(d, lease.FileName)) {
			t.Errorf("%s: the lease was not released when Run returned", d)
		}
	}
}

func mkdir(p string) error { return os.Mkdir(p, 0o700) }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
