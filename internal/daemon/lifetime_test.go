package daemon_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
)

// ownGoroutines lists the stacks of goroutines running the pipeline's code
// that carry the test's profiler label: e.start runs the daemon under it and
// every goroutine inherits its creator's labels, so what other tests left
// winding down on a busy machine is never counted against this one.
func ownGoroutines(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%q:%q", testLabel, t.Name())
	var own []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(g, "# labels: ") || !strings.Contains(g, want) {
			continue
		}
		for _, pkg := range []string{"internal/daemon.", "internal/uploader.", "internal/poller.", "internal/finish.",
			"internal/watcher.", "internal/webhook.", "internal/admin."} {
			if strings.Contains(g, "ppsync/"+pkg) {
				own = append(own, g)
				break
			}
		}
	}
	return own
}

// When Run returns, every goroutine it started (watchers, stages, lease
// renewal, webhook receiver and its helpers, admin endpoint) has ended and
// the leases are released.
func TestRunJoinsEveryGoroutineBeforeReturning(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webhookConfig("1s")
	cfg.Admin.Listen = freePort(t)
	stop := e.start(cfg)
	p := filepath.Join(e.inbox, "a.pdf")
	write(t, p, pdf(t, 1, 1))
	e.waitFor("the result", 20*time.Second, func() bool { return exists(results.ResultPath(p)) })
	if len(ownGoroutines(t)) == 0 {
		t.Fatal("no pipeline goroutine seen while running: the check cannot see them")
	}
	stop()
	// A goroutine of the supervisor that has signalled its end may still
	// be leaving its last frame when Run returns: those get a moment, never
	// one that is anywhere else (in a component's code).
	var own []string
	patience.Wait(time.Second, 5*time.Millisecond, func() bool {
		own = ownGoroutines(t)
		return len(own) == 0 || !onlyLeaving(own)
	})
	if len(own) > 0 {
		t.Fatalf("%d goroutines still running after Run returned:\n%s", len(own), strings.Join(own, "\n\n"))
	}
	if _, err := os.Stat(filepath.Join(e.inbox, lease.FileName)); !os.IsNotExist(err) {
		t.Errorf("lease file after Run returned: %v", err)
	}
}

// onlyLeaving tells that every goroutine in own (pprof's text, one per
// entry) is the supervisor's wrapper of a component's Run at its very end:
// one frame, the wrapper's, after the component returned.
func onlyLeaving(own []string) bool {
	for _, g := range own {
		var frames []string
		for _, l := range strings.Split(g, "\n") {
			if strings.HasPrefix(l, "#\t0x") {
				frames = append(frames, l)
			}
		}
		if len(frames) != 1 || !strings.Contains(frames[0], "daemon.supervisor.Run.func1") {
			return false
		}
	}
	return true
}
