// Package memlimit keeps the daemon's heap near its live data.
//
// Go's garbage collector lets the heap grow to twice the live data before
// it collects (GOGC=100). For a daemon that holds a table of every file it
// watches, that doubles its resident memory for no gain. Run sets a soft
// memory limit (runtime/debug.SetMemoryLimit) of Floor, or of the live heap
// plus half when that is more, and follows the live heap as it grows and
// shrinks. The collector then works a little more often while the heap is
// small, and never runs back to back: the limit always leaves it room above
// what is really in use.
//
// An administrator's GOMEMLIMIT wins: with it set, Run changes nothing.
package memlimit

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor is the smallest soft limit Run sets. Besides the heap, it covers
// goroutine stacks and the runtime's own bookkeeping. During a backlog of
// 100,000 files the live heap is 12–20 MiB (the watcher's tables, the
// queue, the jobs in flight, what libraries set up at start): 32 MiB
// leaves the collector room enough not to run back to back.
const Floor = 32 << 20

// Every is how often Run follows the live heap.
const Every = 2 * time.Second

// Limit is the soft limit for a live heap of live bytes with a floor.
func Limit(live, floor int64) int64 { return max(floor, live+live/2) }

// Run adjusts the soft memory limit every interval until ctx ends, then
// restores the limit it found. It returns at once when GOMEMLIMIT is set
// (getenv is os.Getenv when nil).
func Run(ctx context.Context, floor int64, every time.Duration, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		var live int64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(min(sample[0].Value.Uint64(), math.MaxInt64/2))
		}
		debug.SetMemoryLimit(Limit(live, floor))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for ctx.Err() == nil {
		set()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
