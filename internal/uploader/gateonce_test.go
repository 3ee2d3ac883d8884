//go:build linux || darwin

package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/testlog"
	"github.com/ppsync/ppsync/internal/watcher"
)

// onceGate is a --once uploader over one inbox whose results folder is
// a regular file at first (no one, root included, can write in it): the
// files are dropped, their events sent and the events channel closed, as a
// --once watcher does once it has reported its inbox.
type onceGate struct {
	u       *Uploader
	st      *state.Store
	fa      *readingAPI
	fin     *forgetting
	logs    *testlog.Buffer
	inbox   string
	results string
	files   []string
	data    map[string][]byte
}

func startOnceGate(t *testing.T, n int, probeRetry time.Duration, fin *forgetting) *onceGate {
	t.Helper()
	dir := t.TempDir()
	g := &onceGate{inbox: filepath.Join(dir, "in"), results: filepath.Join(dir, "results"), fa: &readingAPI{},
		fin: fin, logs: &testlog.Buffer{}, data: map[string][]byte{}}
	if g.fin == nil {
		g.fin = &forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}}
	}
	if err := os.Mkdir(g.inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.results, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g.st = st
	g.fa.accepted, g.fa.types = map[string]string{}, map[string]string{}
	g.u = New(Options{Store: st, API: g.fa, Finisher: g.fin, Tracker: &lockedTracker{},
		Inboxes: []Inbox{{Path: g.inbox, ParserID: "prs", Targets: []string{g.results}}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20,
		BatchWindow: 20 * time.Millisecond, CreditRecheck: 5 * time.Millisecond, ProbeRetry: probeRetry, Once: true,
		Logger: slog.New(slog.NewTextHandler(g.logs, nil))})
	events := make(chan watcher.Event, n)
	for i := range n {
		p := filepath.Join(g.inbox, fmt.Sprintf("scan%d.pdf", i))
		g.data[p] = writePDF(t, p, i+1)
		g.files = append(g.files, p)
		events <- readyEvent(t, p)
	}
	close(events) // the --once watcher has reported every file
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.u.Run(ctx, events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return g
}

// heal makes the results folder writable: the regular file becomes a folder.
func (g *onceGate) heal(t *testing.T) {
	t.Helper()
	if err := os.Remove(g.results); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(g.results, 0o755); err != nil {
		t.Fatal(err)
	}
}

// until polls cond every millisecond until it holds or d passes.
func until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// records counts the files of the inbox the state has a record of.
func (g *onceGate) records(t *testing.T) int {
	t.Helper()
	n := 0
	if err := g.st.View(func(tx *state.Tx) error {
		for _, p := range g.files {
			if _, ok, err := tx.File(p); err != nil {
				return err
			} else if ok {
				n++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// In --once the watcher has finished when the results folder heals: the
// held files are taken in by the gate itself (the watcher would report
// nothing again), and until then the uploader is not idle, so the run
// does not end without them.
func TestOnceHeldFilesGoOnWhenTheInboxHeals(t *testing.T) {
	g := startOnceGate(t, 3, 5*time.Millisecond, nil)
	until(t, 20*time.Second, "the inbox reported unwritable", func() bool {
		return strings.Contains(g.logs.String(), "inbox cannot take its results")
	})
	until(t, 20*time.Second, "every file held", func() bool {
		_, held := g.heldFiles()
		return held == len(g.files)
	})
	// Held, the events channel closed: with nothing else to do the run
	// must still not end (it is not idle; stuck at most, once it gave up).
	if idle, _ := g.u.Idle(); idle {
		t.Fatal("the uploader reports idle while 3 files are held")
	}
	if g.records(t) != 0 || g.submissions() != 0 {
		t.Fatal("held files were recorded or sent")
	}

	g.heal(t)
	until(t, 20*time.Second, "every held file sent, and the uploader idle", func() bool {
		idle, _ := g.u.Idle()
		g.fa.mu.Lock()
		defer g.fa.mu.Unlock()
		return idle && len(g.fa.accepted) == len(g.files)
	})
	for _, p := range g.files {
		if got, want := g.fa.accepted[filepath.Base(p)], sum(g.data[p]); got != want {
			t.Errorf("%s: sent %q, want %q", filepath.Base(p), got, want)
		}
	}
	if n := g.records(t); n != len(g.files) {
		t.Errorf("%d files recorded, want %d", n, len(g.files))
	}
	if forgot := g.fin.forgotten(); len(forgot) != 0 {
		t.Errorf("asked the finished watcher to report %v again", forgot)
	}
	if l, ok := g.u.Leftover(); !ok || len(l.Held) != 0 || len(l.Unrecorded) != 0 || l.Credits {
		t.Errorf("left over %+v (ok %v), want nothing", l, ok)
	}
}

// submissions counts the calls to the API.
func (g *onceGate) submissions() int {
	g.fa.mu.Lock()
	defer g.fa.mu.Unlock()
	return g.fa.calls
}

// forgotten is what the uploader asked the watcher to report again.
func (f *forgetting) forgotten() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forgot)
}

// heldFiles counts the files the gate holds, as (waiting, all).
func (g *onceGate) heldFiles() (waiting, all int) {
	w, left, _ := g.u.gateWork()
	return w, w + left
}

// A results folder that never heals: a few probes after the watcher
// finished the uploader stops waiting (stuck, not idle), and the files
// are left as they are, named with the inbox and the error, for the next
// run: nothing recorded, nothing sent.
func TestOnceGivesUpOnAnInboxThatStaysUnwritable(t *testing.T) {
	g := startOnceGate(t, 2, 5*time.Millisecond, nil)
	start := time.Now()
	until(t, 20*time.Second, "the uploader to stop waiting for the held files", func() bool {
		_, stuck := g.u.Idle()
		return stuck
	})
	// onceHoldProbes probes, every 5 ms: far less than this even under -race.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v", d)
	}
	if idle, _ := g.u.Idle(); idle {
		t.Fatal("idle with files held")
	}
	l, ok := g.u.Leftover()
	if !ok || len(l.Held) != 1 {
		t.Fatalf("left over %+v (ok %v), want the held inbox", l, ok)
	}
	h := l.Held[0]
	if h.Inbox != g.inbox || h.Files != 2 || h.Err == nil || !strings.Contains(h.Err.Error(), g.results) {
		t.Errorf("held %+v, want inbox %s, 2 files, an error naming %s", h, g.inbox, g.results)
	}
	if g.records(t) != 0 || g.submissions() != 0 {
		t.Error("files of an unwritable inbox were recorded or sent")
	}
	for _, p := range g.files {
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, g.data[p]) {
			t.Errorf("%s changed or gone: %v", p, err)
		}
	}
	// The run is over: a heal now does not take the files in behind its
	// report (the next run does).
	g.heal(t)
	until(t, 20*time.Second, "the heal seen", func() bool { return g.u.InboxFault(0) == nil })
	if _, all := g.heldFiles(); all != 2 || g.records(t) != 0 {
		t.Errorf("after the run ended: %d files held, %d recorded; want 2 and 0", all, g.records(t))
	}
}

// refusingFinisher cannot write error files.
type refusingFinisher struct{ forgetting }

func (f *refusingFinisher) Refused(context.Context, state.File, string, string) error {
	return errors.New("disk full")
}

// A file --once could not record (its error file could not be written) is
// not left to a watcher that has finished: it is listed for the run's end.
func TestOnceListsAFileItCouldNotRecord(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bad := filepath.Join(dir, "bad.pdf")
	if err := os.WriteFile(bad, []byte("not a pdf at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	fin := &refusingFinisher{forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}}}
	u := New(Options{Store: st, API: &readingAPI{}, Finisher: fin, Tracker: &lockedTracker{}, Inboxes: []Inbox{{Path: dir, ParserID: "prs"}},
		Once: true, ProbeRetry: 5 * time.Millisecond})
	events := make(chan watcher.Event, 1)
	events <- readyEvent(t, bad)
	close(events)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, events); close(done) }()
	defer func() { cancel(); <-done }()
	until(t, 20*time.Second, "intake done", func() bool { idle, _ := u.Idle(); return idle })
	l, ok := u.Leftover()
	if !ok || len(l.Unrecorded) != 1 || l.Unrecorded[0].Path != bad || !strings.Contains(l.Unrecorded[0].Err.Error(), "disk full") {
		t.Errorf("left over %+v (ok %v), want %s unrecorded for the disk full", l, ok, bad)
	}
	if forgot := fin.forgotten(); len(forgot) != 0 {
		t.Errorf("asked the finished watcher to report %v again", forgot)
	}
}
