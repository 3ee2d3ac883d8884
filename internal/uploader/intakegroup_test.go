//go:build linux || darwin

package uploader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// intakeRun runs the uploader's intake alone: nothing is ever sent (the
// batch window is an hour, and more files are always said to be settling),
// and validation runs without the journal, so every commit counted is
// intake's. gate, when set, runs at the start of each validation.
type intakeRun struct {
	u         *Uploader
	st        *state.Store
	events    chan watcher.Event
	inspected atomic.Int64
}

func startIntake(t *testing.T, dir string, wait time.Duration, gate func(path string, r *intakeRun)) *intakeRun {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &intakeRun{st: st, events: make(chan watcher.Event, 64)}
	r.u = New(Options{Store: st, API: &readingAPI{}, Finisher: &fakeFinisher{failed: map[string]string{}}, Tracker: &lockedTracker{},
		Inboxes: []Inbox{{Path: dir, ParserID: "prs"}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20, BatchWindow: time.Hour,
		Settling: func() int { return 1 },
		Inspect: func(p string, o filecheck.Options) (filecheck.Info, error) {
			if gate != nil {
				gate(p, r)
			}
			o.Journal = nil
			info, err := filecheck.Inspect(p, o)
			r.inspected.Add(1)
			return info, err
		}})
	r.u.intakeWait = wait
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.u.Run(ctx, r.events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// waitQueued waits until n documents are queued.
func (r *intakeRun) waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.u.mu.Lock()
		got := r.u.queue.Len()
		r.u.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents queued, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Files validated while the one before them is being recorded are
// recorded together: 16 files ready at once are one commit, not 16.
func TestIntakeRecordsReadyFilesInOneTransaction(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two validation workers (GOMAXPROCS >= 2): the first file's validation is held until the others are validated")
	}
	dir := t.TempDir()
	const n = intakeGroupMax
	first := filepath.Join(dir, "scan-00.pdf")
	// The first file's validation waits until every other is validated,
	// so all of them are ready when the first is recorded.
	r := startIntake(t, dir, 0, func(p string, r *intakeRun) {
		if p != first {
			return
		}
		deadline := time.Now().Add(30 * time.Second)
		for r.inspected.Load() < n-1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	})
	var evs []watcher.Event
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("scan-%02d.pdf", i))
		writePDF(t, p, i+1)
		evs = append(evs, readyEvent(t, p))
	}
	before := r.st.Commits()
	for _, ev := range evs {
		r.events <- ev
	}
	r.waitQueued(t, n)
	if got := r.st.Commits() - before; got > 1 {
		t.Errorf("%d files ready together took %d commits, want 1", n, got)
	}
	for _, ev := range evs {
		var f state.File
		var ok bool
		if err := r.st.View(func(tx *state.Tx) (err error) { f, ok, err = tx.File(ev.Path); return err }); err != nil || !ok || f.State != state.FileQueued {
			t.Errorf("%s: recorded %v %+v (%v), want queued", ev.Path, ok, f, err)
		}
	}
}

// A file alone is recorded and queued at once: it never waits for others
// to join its group (the events channel stays open, nothing else comes),
// however long a group may wait for files on their way.
func TestIntakeRecordsALoneFileAtOnce(t *testing.T) {
	dir := t.TempDir()
	r := startIntake(t, dir, time.Hour, nil)
	p := filepath.Join(dir, "alone.pdf")
	writePDF(t, p, 1)
	r.events <- readyEvent(t, p)
	r.waitQueued(t, 1)
	// And a second, later, alone again.
	q := filepath.Join(dir, "later.pdf")
	writePDF(t, q, 2)
	r.events <- readyEvent(t, q)
	r.waitQueued(t, 2)
}

// Files deleted together are recorded gone together, each with its
// document failed when it was the document's only file, in one commit.
func TestIntakeRecordsDeletedFilesTogether(t *testing.T) {
	dir := t.TempDir()
	r := startIntake(t, dir, 0, nil)
	const n = 6
	var evs []watcher.Event
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("gone-%d.pdf", i))
		writePDF(t, p, i+1)
		evs = append(evs, readyEvent(t, p))
	}
	for _, ev := range evs {
		r.events <- ev
	}
	r.waitQueued(t, n)
	// The Gone events are all in the channel before the first is handled:
	// the intake goroutine is held on the state's writer lock meanwhile.
	before := r.st.Commits()
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = r.st.Update(func(*state.Tx) error { close(held); <-hold; return nil })
	}()
	<-held
	for _, ev := range evs {
		if err := os.Remove(ev.Path); err != nil {
			t.Fatal(err)
		}
		r.events <- watcher.Event{Kind: watcher.Gone, Path: ev.Path}
	}
	close(hold)
	r.waitQueued(t, 0)
	deadline := time.Now().Add(30 * time.Second)
	for {
		gone := 0
		for _, ev := range evs {
			var f state.File
			_ = r.st.View(func(tx *state.Tx) (err error) { f, _, err = tx.File(ev.Path); return err })
			if f.State == state.FileGone {
				gone++
			}
		}
		if gone == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d files recorded gone", gone, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// One commit for the held transaction; the six deletions take at most
	// one for the first (handled before the rest reached the channel) and
	// one for the others.
	if got := r.st.Commits() - before; got > 3 {
		t.Errorf("%d files deleted together took %d commits, want at most 3", n, got)
	}
}

// Files on their way (being validated, or waiting for a worker) when one
// is validated join its group: eight files validated one after another,
// none ready when the one before it is recorded, are one or two commits.
func TestIntakeGroupWaitsForFilesOnTheirWay(t *testing.T) {
	dir := t.TempDir()
	// Each validation takes a while, so the next file is never validated
	// when the one before it is handled.
	r := startIntake(t, dir, time.Hour, func(string, *intakeRun) { time.Sleep(20 * time.Millisecond) })
	const n = 8
	var evs []watcher.Event
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("way-%d.pdf", i))
		writePDF(t, p, i+1)
		evs = append(evs, readyEvent(t, p))
	}
	before := r.st.Commits()
	for _, ev := range evs {
		r.events <- ev
	}
	r.waitQueued(t, n)
	if got := r.st.Commits() - before; got > 2 {
		t.Errorf("%d files validated one after another took %d commits, want at most 2", n, got)
	}
}

// The send loop's tick runs only while documents are queued: an idle
// uploader does not wake on it, and the first document queued starts it
// again, even while the intake is still busy with the next file (here the
// document stays queued: the batch window is an hour and files are always
// said to be settling).
func TestSendLoopTicksOnlyWhileDocumentsWait(t *testing.T) {
	dir := t.TempDir()
	release, busyStarted := make(chan struct{}), make(chan struct{})
	r := startIntake(t, dir, 0, func(path string, _ *intakeRun) {
		switch filepath.Base(path) {
		case "a.pdf": // validated once busy.pdf is on its way
			<-busyStarted
		case "busy.pdf":
			close(busyStarted)
			<-release
		}
	})
	// Registered after startIntake's, so it runs first: the uploader's
	// stop waits for the validation held here.
	t.Cleanup(func() { close(release) })
	time.Sleep(50 * time.Millisecond) // the loop's first look finds nothing
	before := r.u.sendTicks.Load()
	time.Sleep(500 * time.Millisecond) // about 7 ticks of 75 ms
	if got := r.u.sendTicks.Load() - before; got > 1 {
		t.Errorf("%d ticks of the send loop in 500 ms with nothing queued, want none", got)
	}
	// a.pdf is queued while busy.pdf, whose validation does not end,
	// keeps the intake busy: the intake going idle wakes nothing.
	p := filepath.Join(dir, "a.pdf")
	writePDF(t, p, 1)
	busy := filepath.Join(dir, "busy.pdf")
	writePDF(t, busy, 2)
	r.events <- readyEvent(t, p)
	r.events <- readyEvent(t, busy)
	r.waitQueued(t, 1)
	queued := r.u.sendTicks.Load()
	deadline := time.Now().Add(5 * time.Second)
	for r.u.sendTicks.Load() < queued+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d ticks in 5 s with a document queued: the first document queued did not start the tick", r.u.sendTicks.Load()-queued)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
