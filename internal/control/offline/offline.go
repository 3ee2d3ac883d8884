// Package offline is control.Control over the state file, for when no
// daemon runs: the status counted from the state, retries and reprocessing
// marked for the next run, ledgers rebuilt from the result files. A webhook
// test needs the running daemon and answers control.ErrNotRunning.
package offline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
)

// lockWait is how long a call waits for the state's lock.
const lockWait = 300 * time.Millisecond

// Offline is an installation whose daemon does not run. Each call opens
// the state and closes it again.
type Offline struct {
	cfg *config.Config
	// getenv resolves the API key (for the parsers' schemas in a rebuild).
	getenv func(string) string
	log    *slog.Logger
}

var _ control.Control = (*Offline)(nil)

// New returns the offline control of cfg. getenv resolves the API key for
// the ledgers' columns (nil: the environment); log takes the warnings of a
// rebuild (nil: discarded).
func New(cfg *config.Config, getenv func(string) string, log *slog.Logger) *Offline {
	if getenv == nil {
		getenv = os.Getenv
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Offline{cfg: cfg, getenv: getenv, log: log}
}

// open opens the state when no daemon holds it (read-only unless write is
// set; only a write creates it).
func (o *Offline) open(write bool) (*state.Store, error) {
	open := state.OpenReadOnly
	if write {
		open = state.Open
	}
	st, err := open(o.cfg.State.Path, lockWait)
	if errors.Is(err, state.ErrLocked) {
		return nil, fmt.Errorf("a running ppsync holds %s, but its admin endpoint (%s) did not answer: check [admin] listen in %s",
			o.cfg.State.Path, o.cfg.Admin.Listen, o.cfg.File)
	}
	return st, err
}

// created tells whether the state file exists.
func (o *Offline) created() bool {
	_, err := os.Stat(o.cfg.State.Path)
	return !errors.Is(err, os.ErrNotExist)
}

// Status counts the files in the state; a state not created yet counts
// nothing.
func (o *Offline) Status(ctx context.Context) (report.Report, error) {
	st, err := o.open(false)
	if errors.Is(err, state.ErrNotCreated) {
		return store.Report(nil, o.cfg, false)
	}
	if err != nil {
		return report.Report{}, err
	}
	defer st.Close()
	return store.Report(st, o.cfg, false)
}

// Retry marks files to be sent through again when ppsync next runs; a
// state not created yet holds nothing to retry.
func (o *Offline) Retry(ctx context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	abs, err := control.AbsPaths(req.Paths)
	if err != nil || !o.created() {
		return control.RetryAnswer{}, err
	}
	st, err := o.open(true)
	if err != nil {
		return control.RetryAnswer{}, err
	}
	defer st.Close()
	return store.Retry(st, control.RetryRequest{Paths: abs, Failed: req.Failed})
}

// noState is a state not created yet, for a request that needs one.
type noState struct{ msg string }

func (e *noState) Error() string { return e.msg }
func (e *noState) Unwrap() error { return control.ErrNoState }

func (o *Offline) reprocess(paths []string, mark bool) (control.ReprocessAnswer, error) {
	abs, err := control.AbsPaths(paths)
	if err != nil {
		return control.ReprocessAnswer{}, err
	}
	if !o.created() {
		return control.ReprocessAnswer{}, &noState{fmt.Sprintf("nothing to process again: the state %s does not exist yet (ppsync has not run with %s)", o.cfg.State.Path, o.cfg.File)}
	}
	st, err := o.open(mark)
	if err != nil {
		return control.ReprocessAnswer{}, err
	}
	defer st.Close()
	if mark {
		return store.Reprocess(st, abs)
	}
	return store.PlanReprocess(st, abs)
}

// PlanReprocess says what processing paths again sends and costs.
func (o *Offline) PlanReprocess(ctx context.Context, paths []string) (control.ReprocessAnswer, error) {
	return o.reprocess(paths, false)
}

// Reprocess marks the finished files among paths to be processed again
// when ppsync next runs (charged again).
func (o *Offline) Reprocess(ctx context.Context, paths []string) (control.ReprocessAnswer, error) {
	return o.reprocess(paths, true)
}

// WebhookTest needs the running daemon: it answers control.ErrNotRunning.
func (o *Offline) WebhookTest(ctx context.Context) (control.WebhookTestAnswer, error) {
	return control.WebhookTestAnswer{}, fmt.Errorf("webhook test: %w (ppsync with %s is not running)", control.ErrNotRunning, o.cfg.File)
}

// RebuildLedgers regenerates every inbox's ledger from its result files.
// The parser's schema gives the columns; without an API key (or an API
// that answers) they come from the documents' own keys.
func (o *Offline) RebuildLedgers(ctx context.Context) (control.RebuildAnswer, error) {
	var parsers daemon.Parsers
	if key, err := o.cfg.ResolveAPIKey(o.getenv); err == nil {
		if c, err := stageopts.NewClient(o.cfg, key); err == nil {
			parsers = c
		}
	}
	return daemon.RebuildLedgersAnswer(ctx, o.cfg, parsers, o.log)
}
