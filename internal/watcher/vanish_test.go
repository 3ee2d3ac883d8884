package watcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
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
