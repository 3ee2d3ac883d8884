package daemon_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// changeMidBody rewrites a file on disk once the first submission's body
// has started to be read: the upload is half on the wire when the bytes
// change.
type changeMidBody struct {
	path string
	with []byte
	once sync.Once
	err  error
}

func (c *changeMidBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/v1/extractions") && req.Body != nil {
		req.Body = &hookedBody{ReadCloser: req.Body, first: func() {
			c.once.Do(func() { c.err = os.WriteFile(c.path, c.with, 0o644) })
		}}
	}
	return http.DefaultTransport.RoundTrip(req)
}

type hookedBody struct {
	io.ReadCloser
	first func()
	read  int
}

func (h *hookedBody) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	h.read += n
	if h.read > 0 {
		h.first()
	}
	return n, err
}

// A file that changes while its upload body is being read is that file's
// problem: the API stays healthy in /healthz (the daemon is idle after it,
// so no later call would clear a wrong outage), the log names the file,
// and the file gets the result of its final content, charged once.
func TestFileChangedMidUploadKeepsTheAPIHealthy(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	cfg.Admin.Listen = freePort(t)
	p := filepath.Join(e.inbox, "scan.pdf")
	write(t, p, pdf(t, 1, 1))
	ch := &changeMidBody{path: p, with: pdf(t, 2, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := e.options(cfg, false)
	o.Transport = ch
	done := make(chan struct{})
	go func() { _, _ = daemon.Run(ctx, o); close(done) }()
	defer func() { cancel(); <-done }()

	var unhealthy []string
	e.waitFor("the changed file's result", 20*time.Second, func() bool {
		if code, body, err := healthzErr(cfg.Admin.Listen); err == nil && code != http.StatusOK {
			unhealthy = append(unhealthy, body)
		}
		b, err := os.ReadFile(results.ResultPath(p))
		return err == nil && bytes.Contains(b, []byte("INV-2026-00002"))
	})
	if ch.err != nil {
		t.Fatal(ch.err)
	}
	// Idle now: whatever health the upload left is what /healthz keeps.
	time.Sleep(300 * time.Millisecond)
	if code, body, err := healthzErr(cfg.Admin.Listen); err != nil || code != http.StatusOK {
		t.Errorf("/healthz after the changed upload: %d %s %v", code, body, err)
	}
	if len(unhealthy) > 0 {
		t.Errorf("/healthz was unhealthy during the changed upload: %q", unhealthy[0])
	}
	logs := e.logs.String()
	if strings.Contains(logs, "API is unreachable") {
		t.Errorf("a file changing during its upload was reported as an API outage:\n%s", tail(logs, 3000))
	}
	if !strings.Contains(logs, "changed or vanished while it was being sent") || !strings.Contains(logs, p) {
		t.Errorf("the log does not name the file that changed:\n%s", tail(logs, 3000))
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 1 || st.PagesCharged != 1 {
		t.Errorf("documents_created=%d pages_charged=%d, want 1 and 1", st.DocumentsCreated, st.PagesCharged)
	}
}

// healthzErr is healthz without failing the test on a refused connection
// (the endpoint may still be starting).
func healthzErr(listen string) (int, string, error) {
	resp, err := http.Get("http://" + listen + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}
