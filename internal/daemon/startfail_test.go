package daemon_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/notify"
)

// A start that fails half-way (the webhook's port is taken) lets go of
// what the components before it took: the inbox's lease is released and
// the marker of a running daemon removed, so the next start neither waits
// for a lease nor reports a crash.
func TestAFailedStartReleasesWhatItTook(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webhookConfig("1s")
	ln, err := net.Listen("tcp", cfg.Webhook.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = daemon.Run(context.Background(), e.options(cfg, false))
	if !errors.Is(err, daemon.ErrCannotRun) || !strings.Contains(err.Error(), "pick a free port") {
		t.Fatalf("Run = %v, want the webhook's port named", err)
	}
	if exists(filepath.Join(e.inbox, lease.FileName)) {
		t.Error("the inbox's lease was kept after a failed start")
	}
	if exists(notify.RunningMarker(cfg.State.Path)) {
		t.Error("the marker of a running daemon was left after a failed start: the next start reports a crash")
	}
}
