package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/testlog"
)

// running is a daemon started in the background.
type running struct {
	logs   *testlog.Buffer
	exited chan error // receives Run's error when it returns
	status func() (report.Report, error)
	cancel context.CancelFunc
}

// runDaemon starts a daemon with its own log; it fails the test if the
// daemon does not start.
func (e *env) runDaemon(cfg *config.Config) *running {
	e.t.Helper()
	r := &running{logs: &testlog.Buffer{}, exited: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	ready := make(chan struct{})
	statusSet := make(chan struct{})
	o := e.options(cfg, false)
	o.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Ready = ready
	o.Status = func(s func() (report.Report, error)) { r.status = s; close(statusSet) }
	go func() {
		_, err := daemon.Run(ctx, o)
		r.exited <- err
	}()
	select {
	case <-statusSet:
	case err := <-r.exited:
		e.t.Fatalf("daemon exited at start: %v", err)
	case <-time.After(20 * time.Second):
		e.t.Fatal("daemon did not start")
	}
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

// alive fails the test if the daemon returned.
func (r *running) alive(t *testing.T, name string) {
	t.Helper()
	select {
	case err := <-r.exited:
		r.exited <- err
		t.Fatalf("%s exited: %v\nlogs:\n%s", name, err, tail(r.logs.String(), 3000))
	default:
	}
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.exited:
		r.exited <- err
	case <-time.After(30 * time.Second):
		t.Error("daemon did not stop")
	}
}

// Two daemons with their own state folders on one machine (so the same
// hostname) on one inbox: one holds it, the other waits without exiting,
// every content is charged once, and the waiting one takes the inbox over
// when the first stops.
func TestTwoDaemonsOnOneInboxChargeOnceAndNeitherExits(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.leaseTTL = 2 * time.Second
	cfgA := e.config("")
	cfgB := *cfgA
	cfgB.State.Path = filepath.Join(e.root, "b", "state", "ppsync.db") // the package's default name, another folder
	a := e.runDaemon(cfgA)
	b := e.runDaemon(&cfgB)
	const n = 12
	for i := range n {
		write(t, filepath.Join(e.inbox, fmt.Sprintf("f%02d.pdf", i)), pdf(t, i, 1+i%3))
	}
	e.waitFor("every result", 60*time.Second, func() bool {
		for i := range n {
			if !exists(results.ResultPath(filepath.Join(e.inbox, fmt.Sprintf("f%02d.pdf", i)))) {
				return false
			}
		}
		return true
	})
	a.alive(t, "first daemon")
	b.alive(t, "second daemon")
	// The one that does not hold the inbox says so in its status.
	waiting := 0
	for _, r := range []*running{a, b} {
		rep, err := r.status()
		if err != nil {
			t.Fatal(err)
		}
		if in := rep.Inboxes[0]; in.Healthy != nil && !*in.Healthy && strings.Contains(in.Error, "being processed by ppsync") {
			waiting++
		}
	}
	if waiting != 1 {
		t.Errorf("%d daemons report the inbox held by another, want 1", waiting)
	}

	// The holder stops: the other takes the inbox over after the lease period.
	holder, other := a, b
	if !strings.Contains(readLease(t, e.inbox), cfgA.State.Path) {
		holder, other = b, a
	}
	holder.stop(t)
	write(t, filepath.Join(e.inbox, "late.pdf"), pdf(t, 99, 2))
	e.waitFor("the late file's result from the other daemon", 60*time.Second, func() bool {
		return exists(results.ResultPath(filepath.Join(e.inbox, "late.pdf")))
	})
	other.alive(t, "remaining daemon")
	st := e.emu.Stats()
	wantPages := 2
	for i := range n {
		wantPages += 1 + i%3
	}
	if st.DocumentsCreated != n+1 || st.PagesCharged != wantPages {
		t.Errorf("documents_created = %d, pages_charged = %d; want %d and %d (each content charged once)",
			st.DocumentsCreated, st.PagesCharged, n+1, wantPages)
	}
}

func readLease(t *testing.T, inbox string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(inbox, lease.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A lease taken over by another ppsync mid-run stops that inbox (logged
// once, shown in status), not the daemon; the inbox is taken back once the
// other stops renewing it, and the files dropped meanwhile are processed
// then.
func TestLeaseLostMidRunStopsTheInboxNotTheDaemon(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	e.leaseTTL = time.Second
	cfg := e.config("")
	d := e.runDaemon(cfg)
	write(t, filepath.Join(e.inbox, "first.pdf"), pdf(t, 1, 1))
	e.waitFor("the first result", 30*time.Second, func() bool {
		return exists(results.ResultPath(filepath.Join(e.inbox, "first.pdf")))
	})

	// Another ppsync takes the inbox and renews its lease.
	stopBeating := takeInbox(t, e.inbox)
	e.waitFor("the inbox stopped", 20*time.Second, func() bool { return strings.Contains(d.logs.String(), "inbox stopped") })
	rep, err := d.status()
	if err != nil {
		t.Fatal(err)
	}
	if in := rep.Inboxes[0]; in.Healthy == nil || *in.Healthy || !strings.Contains(in.Error, "scanner-pc-2") {
		t.Errorf("status of the inbox taken over: healthy %v, error %q; want unhealthy naming the holder", in.Healthy, in.Error)
	}
	write(t, filepath.Join(e.inbox, "second.pdf"), pdf(t, 2, 1))
	// Not processed while the other holds the inbox (settle is 150 ms; give
	// it ten times that).
	time.Sleep(1500 * time.Millisecond)
	if exists(results.ResultPath(filepath.Join(e.inbox, "second.pdf"))) || e.emu.Stats().DocumentsCreated != 1 {
		t.Fatal("a file of an inbox held by another ppsync was processed")
	}
	d.alive(t, "daemon")

	stopBeating()
	e.waitFor("the second result after the inbox was taken back", 30*time.Second, func() bool {
		return exists(results.ResultPath(filepath.Join(e.inbox, "second.pdf")))
	})
	d.alive(t, "daemon")
	if n := strings.Count(d.logs.String(), "inbox stopped"); n != 1 {
		t.Errorf("the lost lease was logged %d times, want once", n)
	}
	if !strings.Contains(d.logs.String(), "inbox lease taken back") {
		t.Error("taking the inbox back was not logged")
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 2 {
		t.Errorf("documents_created = %d, want 2", st.DocumentsCreated)
	}
}

// takeInbox plays another ppsync, on another machine, that takes inbox's
// lease and renews it until the returned function is called.
func takeInbox(t *testing.T, inbox string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h := lease.Holder{ID: "thief", Instance: "0123456789abcdef0123456789abcdef", Machine: "m2", Host: "scanner-pc-2", PID: 4242,
			State: `C:\ProgramData\ppsync\state.db`}
		for ctx.Err() == nil {
			h.Beat++
			b, _ := json.Marshal(h)
			_ = results.WriteAtomic(filepath.Join(inbox, lease.FileName), b)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// Files queued but not sent when the lease is lost are handed back: they
// are not sent while the other ppsync holds the inbox (even once credits
// come), and are processed, once each, after the inbox is taken back.
func TestLostLeaseHandsBackQueuedFiles(t *testing.T) {
	e := newEnv(t, emulator.Options{Credits: emulator.NoCredits})
	e.leaseTTL = time.Second
	d := e.runDaemon(e.config(""))
	names := []string{"a.pdf", "b.pdf", "c.pdf"}
	for i, n := range names {
		write(t, filepath.Join(e.inbox, n), pdf(t, i, 1))
	}
	e.waitFor("the files waiting for credits", 30*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "not enough credits")
	})
	stop := takeInbox(t, e.inbox)
	e.waitFor("the inbox stopped", 20*time.Second, func() bool { return strings.Contains(d.logs.String(), "handed_back=3") })
	e.emu.SetCredits(100)
	// Credits are rechecked every 200 ms: give the uploader ten rounds.
	time.Sleep(2 * time.Second)
	if n := e.emu.Stats().DocumentsCreated; n != 0 {
		t.Fatalf("%d handed-back files sent while another ppsync holds the inbox", n)
	}
	stop()
	e.waitFor("every result after the inbox was taken back", 30*time.Second, func() bool {
		for _, n := range names {
			if !exists(results.ResultPath(filepath.Join(e.inbox, n))) {
				return false
			}
		}
		return true
	})
	d.alive(t, "daemon")
	if n := e.emu.Stats().DocumentsCreated; n != 3 {
		t.Errorf("documents_created = %d, want 3", n)
	}
}
