package daemon_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/results"
)

// ownGoroutines lists the stacks of goroutines running the pipeline's code
// that were started after the goroutine numbered since: goroutine numbers
// only grow, so what earlier tests left still winding down on a busy
// machine is not counted against this one.
func ownGoroutines(since int64) []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var own []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if goroutineID(g) <= since {
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

// goroutineID reads N from a stack's "goroutine N [state]:" header.
func goroutineID(stack string) int64 {
	f := strings.Fields(stack)
	if len(f) < 2 || f[0] != "goroutine" {
		return 0
	}
	id, _ := strconv.ParseInt(f[1], 10, 64)
	return id
}

// lastGoroutineID is the highest goroutine number now running.
func lastGoroutineID() int64 {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var last int64
	for _, g := range strings.Split(string(buf), "\n\n") {
		last = max(last, goroutineID(g))
	}
	return last
}

// When Run returns, every goroutine it started (watchers, stages, lease
// renewal, webhook receiver and its helpers, admin endpoint) has ended and
// the leases are released.
func TestRunJoinsEveryGoroutineBeforeReturning(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webhookConfig("1s")
	cfg.Admin.Listen = freePort(t)
	since := lastGoroutineID()
	stop := e.start(cfg)
	p := filepath.Join(e.inbox, "a.pdf")
	write(t, p, pdf(t, 1, 1))
	e.waitFor("the result", 20*time.Second, func() bool { return exists(results.ResultPath(p)) })
	if len(ownGoroutines(since)) == 0 {
		t.Fatal("no pipeline goroutine seen while running: the check cannot see them")
	}
	stop()
	if own := ownGoroutines(since); len(own) > 0 {
		t.Fatalf("%d goroutines still running after Run returned:\n%s", len(own), strings.Join(own, "\n\n"))
	}
	if _, err := os.Stat(filepath.Join(e.inbox, lease.FileName)); !os.IsNotExist(err) {
		t.Errorf("lease file after Run returned: %v", err)
	}
}
