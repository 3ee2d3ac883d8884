package watcher_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/watcher"
)

// A change of mtime alone, same size and same identity, while a file
// settles restarts its settle clock: it is not reported until it has held
// still for settle. (On a local filesystem a new mtime brings a new ctime,
// so the identity is frozen here to see the mtime alone; no file events
// and no rescans, so it is the settle check that must see it.)
func TestSettleRestartsOnAnMtimeOnlyChange(t *testing.T) {
	const settle = time.Second
	in := inbox(t, func(in *watcher.Inbox) {
		in.Settle, in.IncompleteAfter, in.RescanInterval = settle, time.Minute, time.Hour
	})
	p := filepath.Join(in.Path, "touched.pdf")
	b := pdf(t)
	write(t, p, b)
	base := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, base, base); err != nil {
		t.Fatal(err)
	}
	w := watcher.NewDeaf(watcher.Options{Inbox: in})
	w.FreezeIdentity()
	events := make(chan watcher.Event, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, events) }()
	t.Cleanup(func() { cancel(); <-done })

	// Wait until the startup scan made it a candidate.
	deadline := time.Now().Add(10 * time.Second)
	for w.Status().Settling == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the file never became a settling candidate")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A new mtime every 50 ms for three settle periods, the size unchanged.
	var last time.Time
	for i := 1; time.Since(base.Add(time.Hour)) < 3*settle; i++ {
		if err := os.Chtimes(p, base, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		select {
		case ev := <-events:
			t.Fatalf("reported %s while its mtime was still changing", ev.Kind)
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case ev := <-events:
		if ev.Kind != watcher.Ready || ev.Path != p || ev.Size != int64(len(b)) {
			t.Fatalf("event %s %s size %d, want Ready %s size %d", ev.Kind, ev.Path, ev.Size, p, len(b))
		}
		if still := time.Since(last); still < settle {
			t.Errorf("reported %v after the last change, want at least settle (%v)", still, settle)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never reported once its mtime held still")
	}
}
