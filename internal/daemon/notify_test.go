package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/notify"
)

// blackHole accepts SMTP connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// hookReceiver keeps the generic webhook notifications it receives.
func hookReceiver(t *testing.T) (addr string, got <-chan map[string]any) {
	t.Helper()
	ch := make(chan map[string]any, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		ch <- m
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), ch
}

// A black-holed SMTP server (it accepts and never answers) delays nothing:
// results land promptly while its messages wait; the other target is told
// of the failed file and of the unclean stop before this start; /metrics
// counts what was sent.
func TestNotificationsNeverHoldThePipelineUp(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	hole := blackHole(t)
	hook, got := hookReceiver(t)
	admin := freePort(t)
	cfg := e.parse(e.fastTables(admin) + fmt.Sprintf(`
[[notify]]
name = "mail"
url = "smtp://%s/?from=ppsync@example.com&to=ops@example.com&tls=none"
group_window = "100ms"
[[notify]]
name = "hook"
url = "webhook+http://%s/ppsync"
group_window = "100ms"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "150ms"
rescan_interval = "300ms"
`, hole, hook))
	// The last run was killed: its marker is still there.
	if err := os.MkdirAll(filepath.Dir(cfg.State.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notify.RunningMarker(cfg.State.Path), []byte("started yesterday, pid 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	o := daemon.Options{Config: cfg, APIKey: key, Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notify: notify.Options{Check: 20 * time.Millisecond, Backoff: 10 * time.Millisecond}}
	ready := make(chan struct{})
	o.Ready = ready
	done := make(chan error, 1)
	go func() { _, err := daemon.Run(ctx, o); done <- err }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("daemon did not stop")
		}
	}()
	<-ready

	bad := filepath.Join(e.inbox, "broken.pdf")
	write(t, bad, []byte("this is no PDF\n%%EOF\n"))
	events := map[string]map[string]any{}
	deadline := time.After(20 * time.Second)
	for events["failures"] == nil || events["restart"] == nil {
		select {
		case m := <-got:
			events[fmt.Sprint(m["event"])] = m
		case <-deadline:
			t.Fatalf("the webhook target was not told of the failure and the restart; got %v\n%s", events, tail(e.logs.String(), 3000))
		}
	}
	if f := events["failures"]; f["title"] != "1 file failed" || !strings.Contains(fmt.Sprint(f["text"]), bad) {
		t.Errorf("failure message: %v", f)
	}
	if r := events["restart"]; !strings.Contains(fmt.Sprint(r["text"]), "did not end cleanly (started yesterday, pid 1)") {
		t.Errorf("restart message: %v", r)
	}

	// The e-mail target is stuck on both messages (each attempt waits up
	// to 30 s for a greeting); files keep landing.
	start := time.Now()
	var files []string
	for i := range 3 {
		p := filepath.Join(e.inbox, fmt.Sprintf("good-%d.pdf", i))
		write(t, p, pdf(t, 10+i, 1))
		files = append(files, p)
	}
	e.waitFor("every result while the SMTP server is black-holed", 15*time.Second, func() bool { return allResults(files) })
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("results took %s", d)
	}

	body := get(t, cfg, "/metrics")
	for _, want := range []string{`ppsync_notify_sent_total{event="failures",target="hook"} 1`, `ppsync_notify_sent_total{event="restart",target="hook"} 1`,
		`ppsync_notify_queue_length{target="mail"}`, `ppsync_notify_failed_total{target="mail"} 0`, "ppsync_files{", "ppsync_result_latency_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, tail(body, 3000))
		}
	}
}
