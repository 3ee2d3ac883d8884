package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// freeLoopbackAddr is a loopback address with a port free a moment ago,
// for the daemon's admin endpoint.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("-watch-status: a free port for the admin endpoint: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// statusWatch asks a daemon for its status every interval, as the status
// page left open in a browser does, and keeps how long each answer took.
type statusWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	took    []time.Duration
	failed  int
	lastErr string
}

// watchStatus starts calling ask (admin.Client.Status: /status with the
// token the daemon writes beside its state) every interval; failures
// before the first answer are not counted (the daemon is starting).
func watchStatus(ask func(context.Context) error, every time.Duration) *statusWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &statusWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			err := ask(ctx)
			w.note(time.Since(start), err, ctx.Err() != nil)
		}
	}()
	return w
}

// note keeps one answer's time, or counts a failure once the daemon has
// answered before (and not because the watch was stopped).
func (w *statusWatch) note(took time.Duration, err error, stopped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		w.took = append(w.took, took)
	case len(w.took) > 0 && !stopped:
		w.failed++
		w.lastErr = err.Error()
	}
}

// stop ends the asking and waits for it.
func (w *statusWatch) stop() {
	w.cancel()
	<-w.done
}

// summary is one line of what the asks measured.
func (w *statusWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.took) == 0 {
		return fmt.Sprintf("status: never answered (%d failed: %s)", w.failed, w.lastErr)
	}
	t := slices.Clone(w.took)
	slices.Sort(t)
	at := func(q float64) time.Duration { return t[min(len(t)-1, int(q*float64(len(t))))] }
	s := fmt.Sprintf("status asked every second while the daemon ran: %d answers, answer time p50 %s, p95 %s, max %s",
		len(t), fine(at(0.5)), fine(at(0.95)), fine(t[len(t)-1]))
	if w.failed > 0 {
		s += fmt.Sprintf("; %d failed (the last: %s)", w.failed, w.lastErr)
	}
	return s
}

// fine rounds d to 10 µs: an answer takes well under fmtDur's 10 ms.
func fine(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
