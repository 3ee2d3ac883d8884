package watcher_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/watcher"
)

// waitStatus polls the watcher's status until ok holds.
func waitStatus(t *testing.T, w *watcher.Watcher, what string, ok func(watcher.Status) bool) watcher.Status {
	t.Helper()
	deadline := time.Now().Add(patience.Scale(10 * time.Second))
	for {
		st := w.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status never got there: %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDecide(t *testing.T) {
	local := fsinfo.Info{Kind: "ext4"}
	share := fsinfo.Info{Kind: "cifs", Network: true}
	for _, tc := range []struct {
		name     string
		watch    string
		info     fsinfo.Info
		err      error
		mode     string
		adaptive bool
		reason   string
	}{
		{"auto, local", watcher.WatchAuto, local, nil, "events+rescan", false, "local filesystem (ext4)"},
		{"auto, share", watcher.WatchAuto, share, nil, "poll (network filesystem cifs)", true, "every 2s from the start"},
		{"auto, unknown filesystem", watcher.WatchAuto, fsinfo.Info{}, os.ErrPermission, "events+rescan", false, "could not be told"},
		{"events on a share: the user's choice", watcher.WatchEvents, share, nil, "events+rescan", false, `watch = "events"`},
		{"poll, local", watcher.WatchPoll, local, nil, "poll", false, "every 1m0s (rescan_interval)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := watcher.Inbox{Path: "/in", Watch: tc.watch, RescanInterval: time.Minute}
			d := watcher.Decide(in, tc.info, tc.err)
			if d.Mode != tc.mode || d.Adaptive != tc.adaptive || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Decide = %+v, want mode %q adaptive %v and a reason with %q", d, tc.mode, tc.adaptive, tc.reason)
			}
		})
	}
}

// An inbox on a network filesystem in watch = "auto" is polled from the
// first second at the fast cadence, though rescan_interval is a minute and
// no change event ever comes: a file dropped is found within the cadence.
func TestNetworkInboxIsPolledFromTheStart(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = time.Minute })
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
	r := startWith(t, w)
	st := waitStatus(t, w, "first scan", func(s watcher.Status) bool { return s.Rescans > 0 })
	if !strings.HasPrefix(st.Mode, "poll") || !strings.Contains(st.Mode, "cifs") || !strings.Contains(st.WatchReason, "network") ||
		st.RescanEvery != 2*time.Second {
		t.Fatalf("status = mode %q, reason %q, every %v; want polling every 2s because of the network filesystem", st.Mode, st.WatchReason, st.RescanEvery)
	}
	p := filepath.Join(in.Path, "from-another-pc.pdf")
	write(t, p, pdf(t))
	dropped := time.Now()
	// Within the cadence (2 s), settle and a generous margin for a busy
	// machine; the minute of rescan_interval is far beyond.
	ev, ok := r.next(10 * time.Second)
	if !ok || ev.Kind != watcher.Ready || ev.Path != p {
		t.Fatalf("got %v %s %s after %v, want ready %s", ok, ev.Kind, ev.Path, time.Since(dropped), p)
	}
	t.Logf("found and settled %v after the drop", time.Since(dropped).Round(time.Millisecond))
}

// A preallocated file (its full size at once, zeros, the tail written
// first) on a share whose server moves mtime and ctime only when the
// writer closes the file: size and mtime hold while the content changes,
// and the file is not ready until its content holds for settle too.
func TestPreallocatedFileOnShareWaitsForItsContent(t *testing.T) {
	const settle = 400 * time.Millisecond
	in := inbox(t, func(i *watcher.Inbox) {
		i.Settle = settle
		i.IncompleteAfter = time.Minute
		i.RescanInterval = time.Minute
	})
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
	w.FreezeStamps()
	r := startWith(t, w)
	waitStatus(t, w, "first scan", func(s watcher.Status) bool { return s.Rescans > 0 })
	b := pdf(t)
	p := filepath.Join(in.Path, "scan.pdf")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	tail := len(b) - 64
	if _, err := f.WriteAt(b[tail:], int64(tail)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, w, "the preallocated file seen", func(s watcher.Status) bool { return s.Settling == 1 })
	// The rest, front to back, in pieces over several settle periods.
	const pieces = 12
	step := (tail + pieces - 1) / pieces
	var written time.Time
	for off := 0; off < tail; off += step {
		if _, err := f.WriteAt(b[off:min(off+step, tail)], int64(off)); err != nil {
			t.Fatal(err)
		}
		written = time.Now()
		if ev, ok := r.next(150 * time.Millisecond); ok {
			t.Fatalf("reported %s while being written (%d of %d bytes in place)", ev.Kind, min(off+step, tail), tail)
		}
	}
	ev := r.expect(watcher.Ready, p)
	if held := time.Since(written); held < settle {
		t.Errorf("ready %v after the last write, want at least settle (%v)", held, settle)
	}
	if got, _ := os.ReadFile(p); string(got) != string(b) || ev.Size != int64(len(b)) {
		t.Errorf("ready with %d bytes, want the whole file", ev.Size)
	}
}

// Drop to result starts when the file could first have been seen: a file
// written 5 s before a listing found it reports at least 5 s, not the
// time since the listing.
func TestSeenIsTheEarliestMomentTheFileCouldBeSeen(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = time.Minute })
	old := filepath.Join(in.Path, "backlog.pdf")
	write(t, old, pdf(t))
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	// Started 20 s ago: the 5 s below are after the start.
	const ago = 20 * time.Second
	started := time.Now().Add(-ago)
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "smb2")
	w.Backdate(ago)
	r := startWith(t, w)
	// Backlog: there before the start, counted from the start.
	ev := r.expect(watcher.Ready, old)
	if d := ev.Seen.Sub(started); d < -time.Second || d > time.Second {
		t.Errorf("backlog file seen at %v, want the start (%v)", ev.Seen, started)
	}
	p := filepath.Join(in.Path, "late.pdf")
	write(t, p, pdf(t))
	written := time.Now().Add(-5 * time.Second)
	if err := os.Chtimes(p, written, written); err != nil {
		t.Fatal(err)
	}
	ev = r.expect(watcher.Ready, p)
	if lat := time.Since(ev.Seen); lat < 5*time.Second {
		t.Errorf("latency %v from seen %v, want at least the 5 s since it was written", lat, ev.Seen)
	}
	if ev.Seen.Before(written.Add(-time.Second)) {
		t.Errorf("seen %v, before it was written (%v)", ev.Seen, written)
	}
}

// The progress of a run counts each file once: a file is either settling
// or reported, never both, whatever the pace its events are taken at and
// however often the folder is listed meanwhile.
func TestEachFileCountedOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		once bool
	}{
		{"run --once", true},
		{"share listed again and again", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = 100 * time.Millisecond })
			const n = 30
			old := time.Now().Add(-time.Hour)
			for i := range n {
				p := filepath.Join(in.Path, fmt.Sprintf("f%02d.pdf", i))
				write(t, p, pdf(t))
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			w := watcher.New(watcher.Options{Inbox: in, Once: true})
			if !tc.once {
				w = watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
			}
			out := make(chan watcher.Event) // taken one at a time, slowly
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx, out) }()
			for got := 1; got <= n; got++ {
				select {
				case <-out:
				case <-time.After(patience.Scale(10 * time.Second)):
					t.Fatalf("%d events, want %d", got-1, n)
				}
				if st := w.Status(); st.Settling+got > n {
					t.Fatalf("after %d reported: %d still settling, %d files counted, want %d", got, st.Settling, st.Settling+got, n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !tc.once {
				waitStatus(t, w, "listings", func(s watcher.Status) bool { return s.Rescans >= 3 })
				if st := w.Status(); st.Settling != 0 || st.Tracked != n {
					t.Errorf("after %d rescans: %d settling, %d tracked; want 0 and %d", st.Rescans, st.Settling, st.Tracked, n)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
