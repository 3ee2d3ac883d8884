package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
)

// Without systemd, install refuses and says how to run ppsync instead,
// rather than writing an unhardened init script that runs as root.
func TestInstallRefusesWithoutSystemd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the refusal is about Linux init systems")
	}
	if sys := chosenSystem(); sys == "linux-systemd" {
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

// A service whose daemon stops on its own ends the process with a
// failure, so that the service manager restarts it, instead of reporting
// "running" while doing nothing.
func TestServiceProgramExitsWhenDaemonStops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stopped bool // Stop asked for it
	}{
		{"daemon dies on its own", false},
		{"stopped by the manager", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exited := make(chan int, 1)
			runErr := errors.New("bad key")
			p := &program{
				opts: daemon.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
				run: func(ctx context.Context, _ daemon.Options) error {
					if tc.stopped {
						<-ctx.Done()
						return nil
					}
					return runErr
				},
				exit: func(code int) { exited <- code },
			}
			if err := p.Start(nil); err != nil {
				t.Fatal(err)
			}
			if tc.stopped {
				// Stop returns once the daemon has returned, after any exit call.
				if err := p.Stop(nil); err != nil {
					t.Fatalf("stop: %v", err)
				}
				select {
				case code := <-exited:
					t.Fatalf("exit(%d) after a requested stop", code)
				default:
				}
				return
			}
			select {
			case code := <-exited:
				if code != exitCantRun {
					t.Fatalf("exit(%d), want %d", code, exitCantRun)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the process did not end after its daemon stopped")
			}
		})
	}
}
