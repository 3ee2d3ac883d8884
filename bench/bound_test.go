//go:build !windows

package main

import (
	"testing"
	"time"
)

// The lower bound of a throughput run: the first window is what is left of
// the server's window once the files have settled, every further 20
// submissions wait for a window of their own, then the last window's
// documents are processed by the emulator's workers.
func TestLowerBound(t *testing.T) {
	const window = 6 * time.Second
	start := time.Unix(1_800_000_000, 0).Truncate(window).Add(200 * time.Millisecond)
	cases := []struct {
		name     string
		n, pages int
		start    time.Time
		want     time.Duration
	}{
		// 200 submissions, 10 windows: 5.8 s of the first, 8 whole ones,
		// then 1,000 documents of 3 pages on 32 workers at 30 ms a page.
		{"10,000 files", 10000, 30000, start, 5800*time.Millisecond + 48*time.Second + 2812500*time.Microsecond},
		// Settled after the first window ended: the next one is the first.
		{"10,000 files, late in a window", 10000, 30000, start.Add(5500 * time.Millisecond), 6300*time.Millisecond + 48*time.Second + 2812500*time.Microsecond},
		// One window: the settle time, then 100 documents on 32 workers.
		{"100 files", 100, 300, start, 500*time.Millisecond + 281250*time.Microsecond},
		// Fewer documents than workers: one round of the last batch.
		{"10 files", 10, 30, start, 500*time.Millisecond + 90*time.Millisecond},
	}
	for _, c := range cases {
		if got := lowerBound(c.n, c.pages, 32, window, 30*time.Millisecond, c.start, 500*time.Millisecond); got != c.want {
			t.Errorf("%s: bound %s, want %s", c.name, got, c.want)
		}
	}
}
