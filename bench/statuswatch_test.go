package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
)

// The watcher asks every interval; it keeps each answer's time, and counts
// failures only once the daemon has answered (before, it is starting).
func TestStatusWatchCountsAnswersAndFailures(t *testing.T) {
	var asked, answering, refusing atomic.Int32
	ask := func(context.Context) error {
		asked.Add(1)
		if answering.Load() == 0 {
			return errors.New("connection refused")
		}
		if refusing.Load() != 0 {
			return errors.New("HTTP 401")
		}
		return nil
	}
	w := watchStatus(ask, 2*time.Millisecond)
	wait := func(n int32) {
		t.Helper()
		if !patience.Wait(10*time.Second, time.Millisecond, func() bool { return asked.Load() >= n }) {
			t.Fatalf("%d asks, want %d", asked.Load(), n)
		}
	}
	wait(3) // the daemon starting: not counted
	answering.Store(1)
	wait(asked.Load() + 3)
	refusing.Store(1)
	wait(asked.Load() + 3)
	w.stop()
	w.mu.Lock()
	answers, failed := len(w.took), w.failed
	w.mu.Unlock()
	if answers < 2 || failed < 2 || answers+failed >= int(asked.Load()) {
		t.Errorf("%d answers and %d failures counted of %d asks, want at least 2 of each and the asks before the first answer left out", answers, failed, asked.Load())
	}
	sum := w.summary()
	for _, want := range []string{"answers", "p50", "failed", "HTTP 401"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q: want %q in it", sum, want)
		}
	}
}
