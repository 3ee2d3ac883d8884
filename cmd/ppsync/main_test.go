package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/testlog"
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
	return setupWith(t, files, "off", "prs_invoice")
}

func setupWith(t *testing.T, files map[string][]byte, adminListen, parser string) (cfgPath string, emu *emulator.Emulator) {
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
[admin]
listen = %q
[[inbox]]
path = "inbox"
parser_id = %q
settle = "100ms"
`, srv.URL, adminListen, parser)
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
	for _, want := range []string{"invoice_number=INV-2026-", "copy of first invoice.pdf", "broken-scan.pdf", "✓ receipt-photo.jpg → receipt-photo.jpg.json: invoice_number=R-",
		"6 done, 0 failed, 1 refused", "Ledger (one row per document, opens in Excel or LibreOffice): " + filepath.Join(dir, "inbox", "invoices.csv")} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "inbox", "broken-scan.pdf.error.json")); err != nil {
		t.Error("no error file for the broken sample")
	}
	// Five documents (the copy shares its original's), the receipt included.
	recs := readCSVLedger(t, filepath.Join(dir, "inbox", "invoices.csv"))
	files := map[string]bool{}
	for _, r := range recs[1:] {
		files[r[0]] = true
	}
	if len(recs) != 6 || !files["receipt-photo.jpg"] {
		t.Errorf("demo ledger: %q", recs)
	}
}

func TestEmulatorCommandServesAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out testlog.Buffer
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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestStatusRetryAndMetrics(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	addr := freeAddr(t)
	failing, err := func() ([]byte, error) {
		inv := samples.Generate(5, 9, 1)
		inv.Extra = []string{emulator.FailMarker}
		return inv.PDF()
	}()
	if err != nil {
		t.Fatal(err)
	}
	cfg, emu := setupWith(t, map[string][]byte{"ok.pdf": invoice(t, 1), "junk.pdf": []byte("junk"), "unlucky.pdf": failing}, addr, "prs_invoice")
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 1 || !strings.Contains(errOut, "2 problems above") ||
		!strings.Contains(out, "junk.pdf") || !strings.Contains(out, "unlucky.pdf") {
		t.Fatalf("first run: %d, want 1 and the two files without a result listed, counted as 2 problems\n%s\n%s", code, out, errOut)
	}

	// Not running: the state file answers.
	code, out, errOut := run(t, env, "status", "-c", cfg, "--json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	var rep struct {
		Daemon  struct{ Running bool } `json:"daemon"`
		Service string                 `json:"service"`
		Inboxes []struct {
			Files      map[string]int `json:"files"`
			LastErrors []struct {
				Path, Code string
			} `json:"last_errors"`
		} `json:"inboxes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	f := rep.Inboxes[0].Files
	if rep.Daemon.Running || f["done"] != 1 || f["failed"] != 1 || f["refused"] != 1 || len(rep.Inboxes[0].LastErrors) != 2 || rep.Service == "" {
		t.Fatalf("status = %s", out)
	}
	if code, out, _ := run(t, env, "status", "-c", cfg); code != 0 || !strings.Contains(out, "not running") || !strings.Contains(out, "last problems") {
		t.Fatalf("status text: %d\n%s", code, out)
	}

	// Retry while stopped: marked for the next run.
	code, out, _ = run(t, env, "retry", "-c", cfg, "--failed")
	if code != 0 || strings.Count(out, "retry: ") != 2 || !strings.Contains(out, "when ppsync next runs") {
		t.Fatalf("retry: %d\n%s", code, out)
	}
	created := emu.Stats().DocumentsCreated

	// Running: status, metrics and retry go through the admin endpoint.
	var logs testlog.Buffer
	m := &Main{Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"run", "-c", cfg}) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d: %s", code, logs.String())
		}
	}()
	waitHTTP(t, "http://"+addr+"/healthz")
	deadline := time.Now().Add(20 * time.Second)
	for emu.Stats().DocumentsCreated == created { // the retried failing document is sent again
		if time.Now().After(deadline) {
			t.Fatalf("retried file never resubmitted: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, _ = run(t, env, "status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "is running") || !strings.Contains(out, "healthy") || !strings.Contains(out, "credits:") {
		t.Fatalf("status while running: %d\n%s", code, out)
	}
	// status prints a one-time sign-in link to the page.
	link := regexp.MustCompile(`sign in:\s+(http://\S+/ui/login\?code=\S+)`).FindStringSubmatch(out)
	if link == nil {
		t.Fatalf("status prints no sign-in link:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.RequestURI() != "/" {
		t.Fatalf("sign-in link: %d at %s, want the page at /", resp.StatusCode, resp.Request.URL)
	}
	if resp, err = (&http.Client{}).Get(link[1]); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the link worked twice: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	bare, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	bare.Body.Close()
	if bare.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/status without the token: %d", bare.StatusCode)
	}
	metrics := get(t, "http://"+addr+"/metrics", adminToken(t, cfg))
	for _, want := range []string{`ppsync_files{inbox="`, `state="done"} 1`, `ppsync_api_requests_total{code="202",route="POST /v1/extractions"}`,
		"ppsync_credits_available", "ppsync_queue_depth", "ppsync_result_write_errors_total 0", "ppsync_watcher_rescans_total", "ppsync_api_rate_limited_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	junk := filepath.Join(filepath.Dir(cfg), "inbox", "junk.pdf")
	deadline = time.Now().Add(20 * time.Second)
	for {
		code, out, _ = run(t, env, "retry", "-c", cfg, junk)
		if code == 0 && strings.Contains(out, "sent through again now") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retry while running: %d\n%s", code, out)
		}
		time.Sleep(100 * time.Millisecond) // junk.pdf is being refused again after the first retry
	}
	if code, _, errOut := run(t, env, "retry", "-c", cfg, filepath.Join(filepath.Dir(cfg), "inbox", "ok.pdf")); code != 1 || !strings.Contains(errOut, "not retried") {
		t.Fatalf("retry of a done file: %d %s", code, errOut)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200 (%v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminToken is the token the daemon of the config at cfgPath wrote.
func adminToken(t *testing.T, cfgPath string) string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// get fetches url with the admin token.
func get(t *testing.T, url, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func TestCheck(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, _ := setup(t, nil)
	code, out, _ := run(t, env, "check", "-c", cfg)
	if code != 0 || !strings.Contains(out, "all checks passed") || !strings.Contains(out, "1000 available") ||
		!strings.Contains(out, `"Invoice Parser"`) || !strings.Contains(out, "readable, writable") || !strings.Contains(out, "not created yet; the service creates it") {
		t.Fatalf("good config: %d\n%s", code, out)
	}
	// check never creates the state: run as root, it would leave a file the service user cannot open.
	statePath := filepath.Join(filepath.Dir(cfg), "ppsync-state.db")
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("check created the state file: %v", err)
	}
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := run(t, env, "check", "-c", cfg); code != 0 || !strings.Contains(out, fmt.Sprintf("schema %d, consistent", state.SchemaVersion)) {
		t.Fatalf("check after a run: %d\n%s", code, out)
	}
	cfg2, _ := setupWith(t, nil, "off", "prs_unconfigured")
	code, out, _ = run(t, env, "check", "-c", cfg2)
	if code != 1 || !strings.Contains(out, "PROBLEM  parser prs_unconfigured") || !strings.Contains(out, "detect-fields") {
		t.Fatalf("unconfigured parser: %d\n%s", code, out)
	}
	code, out, _ = run(t, map[string]string{"TEST_PP_KEY": "pp_live_nope_0000"}, "check", "-c", cfg)
	if code != 1 || !strings.Contains(out, "UNAUTHORIZED") || strings.Contains(out, "pp_live_nope_0000") {
		t.Fatalf("bad key: %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(bad, []byte("[[inbox]]\npath = \"nowhere\"\nparser_id = \"p\"\n"), 0o600)
	code, out, errOut := run(t, env, "check", "-c", bad)
	// A missing inbox loads (the daemon retries it) but check reports it.
	if code != 1 || !strings.Contains(out, "PROBLEM  inbox "+filepath.Join(filepath.Dir(bad), "nowhere")) || !strings.Contains(out, "mount its share") {
		t.Fatalf("missing inbox: %d\n%s\n%s", code, out, errOut)
	}
}

func TestDamagedStateRebuildPaysNothingTwice(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, emu := setup(t, map[string][]byte{"a.pdf": invoice(t, 1), "b.pdf": invoice(t, 2), "c.pdf": invoice(t, 3), "bad.pdf": []byte("nope")})
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 1 {
		t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := run(t, env, "state", "check", "-c", cfg); code != 0 || !strings.Contains(out, "consistent") {
		t.Fatalf("state check on a good file: %d %s", code, out)
	}
	submissions := emu.Stats().Requests["POST /v1/extractions"]
	statePath := filepath.Join(filepath.Dir(cfg), "ppsync-state.db")
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8192 && i < len(b); i++ { // wipe both meta pages (bbolt survives losing one)
		b[i] = 0xAB
	}
	if err := os.WriteFile(statePath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, env, "run", "-c", cfg, "--once")
	if code != 2 || !strings.Contains(errOut, statePath) || !strings.Contains(errOut, "ppsync state rebuild") {
		t.Fatalf("damaged state: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, env, "state", "check", "-c", cfg); code != 1 || !strings.Contains(errOut, "damaged") {
		t.Fatalf("state check on a damaged file: %d %q", code, errOut)
	}
	code, out, _ := run(t, env, "state", "rebuild", "-c", cfg)
	if code != 0 || !strings.Contains(out, "3 files with results, 1 with error files") {
		t.Fatalf("rebuild: %d\n%s", code, out)
	}
	if matches, _ := filepath.Glob(statePath + ".broken-*"); len(matches) != 1 {
		t.Fatalf("old state not kept aside: %v", matches)
	}
	if code, out, _ := run(t, env, "run", "-c", cfg, "--once"); code != 1 || !strings.Contains(out, "3 done") {
		t.Fatalf("after rebuild: %d\n%s", code, out)
	}
	if got := emu.Stats().Requests["POST /v1/extractions"]; got != submissions {
		t.Fatalf("rebuild led to %d new submissions", got-submissions)
	}
}
