package smbtest_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/testlog"
)

// shareConf is what the daemon tests on a share set; the rest is the same
// for all of them (a 1 s rate window, polling every 100 ms).
type shareConf struct {
	API, Inbox  string // the emulator's URL, the inbox's folder on the mount
	Settle      string
	Rescan      string // rescan_interval; "" leaves the default
	BatchWindow string // "" is 100ms
	Listen      string // the admin endpoint; "" is off
}

// parse writes the config into a temp folder and parses it.
func (c shareConf) parse(t *testing.T) *config.Config {
	t.Helper()
	opt := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	var inbox strings.Builder
	fmt.Fprintf(&inbox, "path = %q\nparser_id = \"prs_invoice\"\nsettle = %q\n", c.Inbox, c.Settle)
	if c.Rescan != "" {
		fmt.Fprintf(&inbox, "rescan_interval = %q\n", c.Rescan)
	}
	root := t.TempDir()
	cfg, err := config.Parse(filepath.Join(root, "ppsync.toml"), fmt.Appendf(nil, `
[api]
base_url = %q
api_key = %q
rate_window = "1s"
[state]
path = "state/ppsync.db"
[upload]
batch_window = %q
[poll]
interval = "100ms"
[admin]
listen = %q
[[inbox]]
%s`, c.API, apiKey, opt(c.BatchWindow, "100ms"), opt(c.Listen, "off"), inbox.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startDaemon runs the daemon on cfg, logging at Info into logs, until the
// returned stop is called (it waits for the daemon to end).
func startDaemon(t *testing.T, cfg *config.Config, logs *testlog.Buffer) (stop func()) {
	t.Helper()
	return startDaemonAt(t, cfg, logs, slog.LevelInfo)
}

// startDaemonAt is startDaemon logging from level on.
func startDaemonAt(t *testing.T, cfg *config.Config, logs *testlog.Buffer, level slog.Level) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := daemon.Run(ctx, daemon.Options{Config: cfg, APIKey: apiKey,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))})
		done <- err
	}()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(patience.Scale(time.Minute)):
			t.Errorf("the daemon did not stop within a minute; log:\n%s", logs.String())
		}
	}
}
