package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := m.Run(ctx, args)
	return code, out.String(), errb.String()
}

func TestHelpVersionAndUsage(t *testing.T) {
	code, out, _ := run(t, nil, "help")
	if code != 0 || !strings.Contains(out, "emulator") || !strings.Contains(out, "run") || !strings.Contains(out, "demo") {
		t.Errorf("help: %d %q", code, out)
	}
	for _, c := range []string{"run", "demo", "emulator", "version"} {
		if code, _, errOut := run(t, nil, c, "--help"); code != 0 || !strings.Contains(errOut, "Usage: ppsync "+c) {
			t.Errorf("%s --help: %d %q", c, code, errOut)
		}
	}
	if code, out, _ := run(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "ppsync ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, "run"); code != 2 || !strings.Contains(errOut, "-c FILE is required") {
		t.Errorf("run without -c: %d %q", code, errOut)
	}
}

func setup(t *testing.T, files map[string][]byte) (cfgPath string, emu *emulator.Emulator) {
	t.Helper()
	emu = emulator.New(emulator.Options{APIKeys: []string{"pp_test_cli"}, ProcessingTime: 5 * time.Millisecond,
		RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(inbox, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath = filepath.Join(dir, "ppsync.toml")
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key_env = "TEST_PP_KEY"
rate_window = "1s"
[upload]
batch_window = "50ms"
[poll]
interval = "100ms"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "100ms"
`, srv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, emu
}

func invoice(t *testing.T, n int) []byte {
	b, err := samples.Generate(5, n, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunOnceExitCodes(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, emu := setup(t, map[string][]byte{"a.pdf": invoice(t, 1), "b.pdf": invoice(t, 2)})
	code, out, errOut := run(t, env, "run", "-c", cfg, "--once")
	if code != 0 || !strings.Contains(out, "2 done, 0 failed") {
		t.Fatalf("all good: %d\n%s\n%s", code, out, errOut)
	}
	// Again: nothing new is submitted.
	before := emu.Stats().Requests["POST /v1/extractions"]
	if code, _, _ := run(t, env, "run", "-c", cfg, "--once"); code != 0 || emu.Stats().Requests["POST /v1/extractions"] != before {
		t.Fatalf("re-run: %d, submissions %d -> %d", code, before, emu.Stats().Requests["POST /v1/extractions"])
	}

	cfg1, _ := setup(t, map[string][]byte{"ok.pdf": invoice(t, 1), "junk.pdf": []byte("junk")})
	code, out, _ = run(t, env, "run", "-c", cfg1, "--once")
	if code != 1 || !strings.Contains(out, "junk.pdf: NOT_A_PDF") {
		t.Fatalf("some failed: %d\n%s", code, out)
	}

	code, _, errOut = run(t, map[string]string{"TEST_PP_KEY": "pp_live_wrong_123456"}, "run", "-c", cfg1, "--once")
	if code != 2 || !strings.Contains(errOut, "UNAUTHORIZED") || strings.Contains(errOut, "pp_live_wrong_123456") {
		t.Fatalf("bad key: %d %q", code, errOut)
	}
	code, _, errOut = run(t, nil, "run", "-c", cfg1, "--once")
	if code != 2 || !strings.Contains(errOut, "TEST_PP_KEY is not set") {
		t.Fatalf("no key: %d %q", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(bad, []byte("[api]\nbase_ur = \"x\"\n"), 0o600)
	code, _, errOut = run(t, env, "run", "-c", bad)
	if code != 2 || !regexp.MustCompile(`bad\.toml:2: api\.base_ur: unknown key \(did you mean "api\.base_url"\?\)`).MatchString(errOut) {
		t.Fatalf("bad config: %d %q", code, errOut)
	}
	code, _, errOut = run(t, env, "run", "-c", filepath.Join(t.TempDir(), "missing.toml"))
	if code != 2 || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("missing config: %d %q", code, errOut)
	}
}

func TestDemoOnce(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, nil, "demo", "--once", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"invoice_number=INV-2026-", "copy of first invoice.pdf", "broken-scan.pdf", "5 done, 0 failed, 1 refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "inbox", "broken-scan.pdf.error.json")); err != nil {
		t.Error("no error file for the broken sample")
	}
}

func TestEmulatorCommandServesAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out syncWriter
	m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- m.Run(ctx, []string{"emulator", "--listen", addr, "--api-key", "k1", "--credits", "0"})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "listening on http://"+addr) {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/me", nil)
	req.Header.Set("X-API-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(b.String(), `"credits_available":0`) {
		t.Fatalf("me: %d %s", resp.StatusCode, b.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
	if code, _, errOut := run(t, nil, "emulator", "--fail-rate", "2"); code != 2 || !strings.Contains(errOut, "between 0 and 1") {
		t.Errorf("bad flag: %d %q", code, errOut)
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
