package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// switchable fails every request while down, like a cut network.
type switchable struct{ down atomic.Bool }

func (s *switchable) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp: connect: connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// startBehind runs the daemon with its API traffic through net and fails
// the test unless its stages have started within limit; the returned stop
// ends it.
func startBehind(t *testing.T, e *env, cfg *config.Config, net *switchable, limit time.Duration) (stop func()) {
	t.Helper()
	o := e.options(cfg, false)
	o.Transport = net
	ready := make(chan struct{})
	o.Ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := daemon.Run(ctx, o); done <- err }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}
	select {
	case <-ready:
	case <-time.After(limit):
		stop()
		t.Fatalf("the daemon did not start its stages within %v (API unreachable: %v)", limit, net.down.Load())
	}
	return stop
}

// An API outage while running: logged once when it starts and once when it
// ends, shown by /healthz meanwhile; files wait and go when it answers.
func TestAPIOutageIsLoggedOnceAndShown(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	cfg.Admin.Listen = freePort(t)
	net := &switchable{}
	defer startBehind(t, e, cfg, net, 10*time.Second)()
	net.down.Store(true)
	p := filepath.Join(e.inbox, "waiting.pdf")
	write(t, p, pdf(t, 1, 1))
	e.waitFor("/healthz to name the API outage", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "PerfectParser API")
	})
	time.Sleep(500 * time.Millisecond) // a few more failed attempts (credit_recheck is 200 ms)
	if n := strings.Count(e.logs.String(), "API is unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}

	net.down.Store(false)
	e.waitFor("the result once the API answers", 30*time.Second, func() bool { return exists(results.ResultPath(p)) })
	e.waitFor("/healthz ok again", 10*time.Second, func() bool {
		code, _ := healthz(t, cfg.Admin.Listen)
		return code == http.StatusOK
	})
	if n := strings.Count(e.logs.String(), "API answers again"); n != 1 {
		t.Errorf("the end of the outage was logged %d times, want once", n)
	}
}

// An API that cannot be reached when the daemon starts does not hold it
// up: the watchers and the status endpoint run at once (the pre-flight
// keeps trying in the background), the outage is shown, and a file
// dropped meanwhile gets its result once the API answers. (A --once run
// still waits for the pre-flight and refuses to run without the API.)
func TestDaemonStartsDuringAnAPIOutage(t *testing.T) {
	for _, hooks := range []bool{false, true} {
		t.Run(fmt.Sprint("webhooks=", hooks), func(t *testing.T) { startDuringOutage(t, hooks) })
	}
}

func startDuringOutage(t *testing.T, hooks bool) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	if hooks {
		cfg = e.webhookConfig("1s")
	}
	cfg.Admin.Listen = freePort(t)
	net := &switchable{}
	net.down.Store(true)
	defer startBehind(t, e, cfg, net, 5*time.Second)()
	e.waitFor("/healthz to name the API outage", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "PerfectParser API")
	})
	p := filepath.Join(e.inbox, "dropped-at-boot.pdf")
	write(t, p, pdf(t, 1, 1))
	net.down.Store(false)
	e.waitFor("the result once the API answers", 60*time.Second, func() bool { return exists(results.ResultPath(p)) })
	if hooks {
		e.waitFor("the webhook registered once the API answers", 60*time.Second, func() bool {
			return strings.Contains(e.logs.String(), "webhook test delivery arrived")
		})
	}

}
