package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/service"
)

// Without systemd, install refuses and says how to run ppsync instead,
// rather than writing an unhardened init script that runs as root.
func TestInstallRefusesWithoutSystemd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the refusal is about Linux init systems")
	}
	if sys := service.ChosenSystem(); sys == "linux-systemd" {
		t.Skipf("SKIPPED: this host runs systemd (%s); the refusal itself is tested in internal/service", sys)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(cfg, []byte("[api]\napi_key_env = \"PP_API_KEY\"\n[[inbox]]\npath = \"inbox\"\nparser_id = \"prs_x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := m.Run(context.Background(), []string{"install", "-c", cfg, "--user", "root"})
	if code != exitCantRun || !strings.Contains(errb.String(), "does not run systemd") || !strings.Contains(errb.String(), "ppsync run -c") {
		t.Fatalf("install without systemd: exit %d, stderr %q, stdout %q", code, errb.String(), out.String())
	}
	if _, err := os.Stat("/etc/init.d/ppsync"); err == nil {
		t.Error("an init script was written")
	}
}
