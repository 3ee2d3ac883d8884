package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/testlog"
)

func TestTwoConfigsWithDefaultAdminSettingsNeverActOnEachOther(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfgA, emuA := setupWith(t, map[string][]byte{"ok.pdf": invoice(t, 1), "junk.pdf": []byte("junk")}, "", "prs_invoice")
	cfgB, _ := setupWith(t, map[string][]byte{"other.pdf": invoice(t, 2)}, "", "prs_invoice")
	a, err := config.Load(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.Load(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if a.Admin.Listen == b.Admin.Listen {
		t.Fatalf("both configs default to the admin address %s", a.Admin.Listen)
	}
	if code, out, errOut := run(t, env, "run", "-c", cfgA, "--once"); code != 1 {
		t.Fatalf("first run of a: %d\n%s\n%s", code, out, errOut)
	}

	var logs testlog.Buffer
	m := &Main{Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"run", "-c", cfgA}) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon a exit %d: %s", code, logs.String())
		}
	}()
	waitHTTP(t, "http://"+a.Admin.Listen+"/healthz")
	submitted := emuA.Stats().DocumentsCreated
	inboxA := filepath.Join(filepath.Dir(cfgA), "inbox")

	// b's commands reach b's (stopped) installation, never a's daemon.
	code, out, errOut := run(t, env, "retry", "-c", cfgB, "--failed")
	if code != 0 || !strings.Contains(out, "nothing to retry") || strings.Contains(out, inboxA) {
		t.Fatalf("retry -c b --failed: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "status", "-c", cfgB, "--json")
	if code != 0 {
		t.Fatalf("status -c b: %d %s", code, errOut)
	}
	var rep struct {
		Daemon  struct{ Running bool }  `json:"daemon"`
		Inboxes []struct{ Path string } `json:"inboxes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Daemon.Running || len(rep.Inboxes) != 1 || rep.Inboxes[0].Path != filepath.Join(filepath.Dir(cfgB), "inbox") {
		t.Fatalf("status -c b shows another installation: %s", out)
	}
	if emuA.Stats().DocumentsCreated != submitted || strings.Contains(logs.String(), "sent through again") {
		t.Fatalf("b's retry reached a's daemon: %s", logs.String())
	}

	// A third config pointed at a's address by mistake is refused clearly:
	// it has no token of a's daemon.
	cfgC, _ := setupWith(t, nil, a.Admin.Listen, "prs_invoice")
	for _, args := range [][]string{{"status", "-c", cfgC}, {"retry", "--failed", "-c", cfgC}} {
		code, _, errOut = run(t, env, args...)
		if code != 2 || !strings.Contains(errOut, "HTTP 401") || !strings.Contains(errOut, "does not serve this config's state") {
			t.Fatalf("%v against a's daemon: %d %s", args, code, errOut)
		}
	}
	if emuA.Stats().DocumentsCreated != submitted {
		t.Fatal("a command of another config made a's daemon submit")
	}

	// a's own commands still work, with flags after the arguments.
	code, out, errOut = run(t, env, "retry", filepath.Join(inboxA, "junk.pdf"), "-c", cfgA)
	if code != 0 || !strings.Contains(out, "sent through again now") {
		t.Fatalf("retry a.pdf -c a: %d\n%s\n%s", code, out, errOut)
	}
}

func TestFlagsAnywhereAndHelpForEveryCommand(t *testing.T) {
	for _, c := range (&Main{}).commands() {
		if c.name == "help" {
			continue
		}
		code, out, errOut := run(t, nil, "help", c.name)
		text := out + errOut
		if code != 0 || !strings.Contains(text, "Usage: ppsync "+c.name) || !strings.Contains(strings.ToLower(text), strings.ToLower(c.summary[:min(20, len(c.summary))])) {
			t.Errorf("help %s: %d\n%s", c.name, code, text)
		}
	}
	if _, _, errOut := run(t, nil, "help", "stop"); !strings.Contains(errOut, "service manager") {
		t.Errorf("help stop says nothing of what it does: %s", errOut)
	}
	cfg, _ := setup(t, nil)
	if code, out, errOut := run(t, nil, "status", "--json", "-c", cfg); code != 0 || !strings.Contains(out, `"inboxes"`) {
		t.Errorf("status --json -c: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := run(t, nil, "status", "-c", cfg, "extra"); code != 2 || !strings.Contains(errOut, "unexpected arguments: extra") {
		t.Errorf("a stray argument: %d %s", code, errOut)
	}
	code, out, _ := run(t, nil, "retry", "a.pdf", "-c", cfg)
	if code != 1 || !strings.Contains(out, "nothing to retry") {
		t.Errorf("retry a.pdf -c FILE: %d %s", code, out)
	}
}

func TestJSONLogsFromTheFirstLine(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, _ := setup(t, map[string][]byte{"a.pdf": invoice(t, 1)})
	appendConfig(t, cfg, "[log]\nformat = \"json\"\n")
	code, _, errOut := run(t, env, "run", "-c", cfg, "--once")
	if code != 0 {
		t.Fatalf("run: %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	sawDuration := false
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %d is not JSON: %q", i+1, l)
		}
		if s, ok := rec["settle"]; ok {
			sawDuration = true
			if s != "100ms" {
				t.Errorf("duration written as %v, want \"100ms\"", s)
			}
		}
	}
	if !strings.Contains(lines[0], "unusually short") {
		t.Errorf("the config's warnings should come first, as JSON: %q", lines[0])
	}
	if !sawDuration {
		t.Errorf("no settle duration logged: %s", errOut)
	}
	code, _, errOut = run(t, nil, "run", "-c", cfg, "--once")
	if code != 2 || !strings.HasPrefix(strings.TrimSpace(errOut), "{") || strings.Contains(errOut, "\nppsync:") {
		t.Fatalf("a missing key under JSON logs: %d %q", code, errOut)
	}
}

func appendConfig(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// `ppsync webhook test` needs the running daemon: with [admin] listen
// "off" it says the endpoint is off; with no daemon answering it says to
// start ppsync; neither reads nor creates the state.
func TestWebhookTestWithoutTheDaemon(t *testing.T) {
	for _, tc := range []struct {
		name, listen, want string
	}{
		{"admin off", "off", `[admin] listen is "off" in `},
		{"nobody answers", "127.0.0.1:" + freePortOf(t), "(start ppsync first)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "ppsync.toml")
			text := "[api]\napi_key = \"k\"\n[admin]\nlisten = \"" + tc.listen + "\"\n[[inbox]]\npath = \"in\"\nparser_id = \"p\"\n"
			if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run(t, nil, "webhook", "test", "-c", cfg)
			if code == 0 || !strings.Contains(errOut, "webhook test: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errOut, tc.want)
			}
			if strings.Contains(errOut, "operation needs the running daemon") {
				t.Errorf("the offline error leaked instead of the advice:\n%s", errOut)
			}
			c, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(c.State.Path); !os.IsNotExist(err) {
				t.Errorf("the state %s was created: %v", c.State.Path, err)
			}
		})
	}
}

// freePortOf is a TCP port nobody listens on.
func freePortOf(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}
