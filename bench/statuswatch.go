package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
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

// statusWatch asks a daemon's /status every second, as the status page
// left open in a browser does, and keeps how long each answer took.
type statusWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	took    []time.Duration
	failed  int
	lastErr string
	bytes   int64
}

// watchStatus starts asking the admin endpoint at addr every interval,
// with the token the daemon writes to tokenFile once it listens; asks
// before the endpoint first answered are not counted (the daemon is
// starting).
func watchStatus(addr, tokenFile string, every time.Duration) *statusWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &statusWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		client := &http.Client{Timeout: 30 * time.Second}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			tok, err := os.ReadFile(tokenFile)
			if err != nil {
				continue // not listening yet
			}
			line, _, _ := strings.Cut(string(tok), "\n")
			w.ask(ctx, client, "http://"+addr+"/status", strings.TrimSpace(line))
		}
	}()
	return w
}

func (w *statusWatch) ask(ctx context.Context, client *http.Client, url, token string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		w.fail(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(err)
		}
		return
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err != nil {
		w.fail(err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.took = append(w.took, took)
	w.bytes += n
}

// fail counts a failed ask once the endpoint has answered before.
func (w *statusWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.took) > 0 {
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
	s := fmt.Sprintf("status asked every second while the daemon ran: %d answers, %.0f KiB on average, answer time p50 %s, p95 %s, max %s",
		len(t), float64(w.bytes)/float64(len(t))/1024, fine(at(0.5)), fine(at(0.95)), fine(t[len(t)-1]))
	if w.failed > 0 {
		s += fmt.Sprintf("; %d failed (the last: %s)", w.failed, w.lastErr)
	}
	return s
}

// fine rounds d to 10 µs: an answer takes well under fmtDur's 10 ms.
func fine(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
