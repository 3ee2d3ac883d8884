package watcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/testlog"
	"github.com/ppsync/ppsync/internal/watcher"
)

// A network inbox polled in watch = "auto" waits four times its last
// listing's duration before the next, at least 2 s and at most
// rescan_interval; other inboxes keep rescan_interval.
func TestShareCadenceFollowsTheListingCost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		share    bool
		took     time.Duration
		want     time.Duration
	}{
		{"a cheap listing: the floor", time.Minute, true, 10 * time.Millisecond, 2 * time.Second},
		{"half a second: still the floor", time.Minute, true, 500 * time.Millisecond, 2 * time.Second},
		{"one second: four", time.Minute, true, time.Second, 4 * time.Second},
		{"five seconds: twenty", time.Minute, true, 5 * time.Second, 20 * time.Second},
		{"never above rescan_interval", time.Minute, true, 30 * time.Second, time.Minute},
		{"rescan_interval below the floor wins", time.Second, true, 10 * time.Millisecond, time.Second},
		{"rescan_interval below the floor, slow listing", time.Second, true, 2 * time.Second, time.Second},
		{"a local inbox keeps rescan_interval", time.Minute, false, 5 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = tc.interval })
			w := watcher.New(watcher.Options{Inbox: in})
			if tc.share {
				w.PolledAsShare()
			}
			if got := w.Adapt(tc.took); got != tc.want {
				t.Errorf("after a listing of %v: every %v, want %v", tc.took, got, tc.want)
			}
		})
	}
}

// The cadence is measured on the listing itself: a share whose stats
// are slow is listed less often, the status and the log say so, and the
// status tells what the listing read and stat'ed.
func TestSlowShareIsListedLessOften(t *testing.T) {
	const files = 120
	const perStat = 10 * time.Millisecond // 1.2 s a listing: every 4.8 s
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = time.Minute })
	for i := range files {
		write(t, filepath.Join(in.Path, fmt.Sprintf("f%03d.pdf", i)), []byte("%PDF-1.4\n%%EOF\n"))
	}
	var logs testlog.Buffer
	w := watcher.NewOnShare(watcher.Options{Inbox: in, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, "cifs")
	w.SlowStats(perStat)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := make(chan watcher.Event, files)
	go func() { done <- w.Run(ctx, out) }()
	defer func() { cancel(); <-done }()
	st := waitStatus(t, w, "first listing", func(s watcher.Status) bool { return s.Rescans > 0 })
	if st.LastListed != files || st.LastStats != files {
		t.Errorf("first listing read %d entries and stat'ed %d, want %d and %d", st.LastListed, st.LastStats, files, files)
	}
	if st.LastListing < files*perStat {
		t.Fatalf("first listing took %v, want at least %v (a stat each)", st.LastListing, files*perStat)
	}
	if st.RescanEvery < 4*st.LastListing || st.RescanEvery > time.Minute || st.RescanEvery <= 2*time.Second {
		t.Errorf("after a listing of %v: listed every %v, want 4 times the listing (above the 2 s floor), at most a minute", st.LastListing, st.RescanEvery)
	}
	if !strings.Contains(logs.String(), "listing_every=") {
		t.Errorf("the new pace is not logged:\n%s", logs.String())
	}
}

// Between sweeps, a network inbox's listing stats only the names it does
// not know: not the files reported, not the results beside them. A file
// rewritten in place under a reported name is seen at the next sweep
// (every rescan_interval); one deleted, at the next listing.
func TestLightListingsStatNewNamesOnly(t *testing.T) {
	const files = 40
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = time.Minute })
	for i := range files {
		p := filepath.Join(in.Path, fmt.Sprintf("f%03d.pdf", i))
		write(t, p, []byte("%PDF-1.4\n%%EOF\n"))
		write(t, p+".json", []byte("{}"))
	}
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
	w.PolledAsShare()
	stats := w.CountStats()
	if err := w.ScanSettled(); err != nil { // the first listing: a sweep
		t.Fatal(err)
	}
	st := w.Status()
	if st.LastListed != 2*files || st.LastStats != files || stats() != files || st.Sweeps != 1 {
		t.Fatalf("first listing: %d entries, %d stat'ed (counted %d), %d sweeps; want %d, %d (the documents, not their results), 1",
			st.LastListed, st.LastStats, stats(), st.Sweeps, 2*files, files)
	}

	// Two new files: two stats.
	for _, name := range []string{"new1.pdf", "new2.pdf"} {
		write(t, filepath.Join(in.Path, name), []byte("%PDF-1.4\n%%EOF\n"))
	}
	before := stats()
	n, err := w.Rescan()
	if err != nil {
		t.Fatal(err)
	}
	if got := stats() - before; got != 2 || n != 2 {
		t.Errorf("light listing: %d stats and %d candidates, want 2 and 2 (the new names only)", got, n)
	}
	if st := w.Status(); st.LastStats != 2 || st.Sweeps != 1 {
		t.Errorf("light listing: status says %d stats, %d sweeps; want 2 and 1", st.LastStats, st.Sweeps)
	}

	// A reported file rewritten in place: not seen by a light listing...
	rewritten := filepath.Join(in.Path, "f007.pdf")
	write(t, rewritten, []byte("%PDF-1.4\nrewritten, longer\n%%EOF\n"))
	if n, err := w.Rescan(); err != nil || n != 2 {
		t.Fatalf("light listing after a rewrite: %d candidates (%v), want still 2", n, err)
	}
	// ...but by the sweep once rescan_interval has passed.
	w.SweptAgo(2 * time.Minute)
	before = stats()
	if n, err := w.Rescan(); err != nil || n != 3 {
		t.Fatalf("sweep after a rewrite: %d candidates (%v), want 3 (the rewritten file too)", n, err)
	}
	if got := stats() - before; got != files+2 {
		t.Errorf("sweep: %d stats, want %d (every document)", got, files+2)
	}
	if st := w.Status(); st.Sweeps != 2 {
		t.Errorf("%d sweeps, want 2", st.Sweeps)
	}

	// A reported file deleted: gone at the next light listing.
	if err := os.Remove(filepath.Join(in.Path, "f011.pdf")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Rescan(); err != nil {
		t.Fatal(err)
	}
	if st := w.Status(); st.Tracked != files-1 {
		t.Errorf("after a delete: %d tracked, want %d", st.Tracked, files-1)
	}
}

// Drop to result starts no earlier than the listing before the one that
// found the file, whatever the pace is now: after a listing that took long
// (a pace of 50 s) or a minute without events, a file found by the next
// listing may have arrived at any time since the one before, and its mtime
// says when.
func TestListingFloorFollowsTheListingsNotThePace(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = time.Minute })
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
	w.PolledAsShare() // the pace now: 2 s
	t0 := time.Now().Add(-time.Hour)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name   string
		begins []time.Duration
		first  time.Duration
		want   time.Duration
	}{
		{"found after a 50 s pause", []time.Duration{0, 2 * time.Second, 52 * time.Second}, 52500 * time.Millisecond, 2*time.Second - 10*time.Second},
		{"found by the second listing a minute later", []time.Duration{0, time.Minute}, time.Minute + 100*time.Millisecond, -10 * time.Second},
		{"found between the first two listings", []time.Duration{0}, time.Second, -10 * time.Second},
		{"at the 2 s pace", []time.Duration{0, 2 * time.Second, 4 * time.Second}, 4100 * time.Millisecond, 2*time.Second - 10*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var begins []time.Time
			for _, b := range tc.begins {
				begins = append(begins, at(b))
			}
			if got := w.ListingFloor(begins, at(tc.first)).Sub(t0); got != tc.want {
				t.Errorf("floor at %v after the start, want %v", got, tc.want)
			}
		})
	}
}
