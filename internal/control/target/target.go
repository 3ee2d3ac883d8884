// Package target picks the installation the CLI acts on: its running
// daemon, through the admin endpoint, or, when none answers, the state
// file (control/offline).
package target

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/offline"
)

// Target is the installation acted on.
type Target struct {
	control.Control
	// Daemon is the running daemon's client (nil offline).
	Daemon *admin.Client
	// Why is why no daemon was asked: its client's error, or nil when
	// [admin] listen is "off".
	Why error
}

// Running tells whether the daemon answered.
func (t Target) Running() bool { return t.Daemon != nil }

// Of asks cfg's daemon; when none answers at its admin address it falls
// back to the state file (an answer from another program, or from another
// config's daemon, is an error). getenv resolves the API key offline; log
// takes the warnings of an offline ledger rebuild.
func Of(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger) (Target, error) {
	var why error
	if c := admin.NewClient(cfg); c != nil {
		_, err := c.Identity(ctx)
		if err == nil {
			return Target{Control: c, Daemon: c}, nil
		}
		if !errors.Is(err, admin.ErrNoDaemon) {
			return Target{}, err
		}
		why = err
	}
	return Target{Control: offline.New(cfg, getenv, log), Why: why}, nil
}
