package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/testlog"
)

func waitFile(t *testing.T, what, path string, logs *testlog.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGHUP with a valid config restarts the pipeline with it (an inbox
// added); with a broken one it says why and keeps running; the daemon
// stops with its "stopped" line.
func TestSighupReloadsTheConfig(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfgPath, _ := setup(t, nil)
	dir := filepath.Dir(cfgPath)
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	hup := make(chan os.Signal, 1)
	m := &Main{Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return env[k] }, Reload: hup}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"run", "-c", cfgPath}) }()

	first := filepath.Join(dir, "inbox", "first.pdf")
	if err := os.WriteFile(first, invoice(t, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, "the first result", first+".json", &logs)

	added := filepath.Join(dir, "receipts")
	if err := os.Mkdir(added, 0o755); err != nil {
		t.Fatal(err)
	}
	withSecond := string(orig) + "[[inbox]]\npath = \"receipts\"\nparser_id = \"prs_invoice\"\nsettle = \"100ms\"\n"
	if err := os.WriteFile(cfgPath, []byte(withSecond), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt // any value: the channel stands for SIGHUP
	second := filepath.Join(added, "second.pdf")
	if err := os.WriteFile(second, invoice(t, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, "a result in the inbox added by the reload", second+".json", &logs)

	if err := os.WriteFile(cfgPath, []byte(withSecond+"[bogus]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "was not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no word on the broken config\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	third := filepath.Join(added, "third.pdf")
	if err := os.WriteFile(third, invoice(t, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, "a result after the broken config was refused", third+".json", &logs)

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, logs.String())
	}
	if out := logs.String(); !strings.Contains(out, "ppsync stopped") || !strings.Contains(out, "bogus") {
		t.Errorf("logs lack the stopped line or the reason:\n%s", out)
	}
}
