package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/rebuild"
)

func (m *Main) runState(ctx context.Context, args []string) error {
	sub, cfg, err := m.subcommand("state", args, [][2]string{
		{"check", "check the state file (ppsync stopped)"},
		{"rebuild", "move a damaged state aside and rebuild it from the inboxes' result files"},
		{"compact", "rewrite the state file without its free pages (ppsync stopped)"},
	})
	if err != nil {
		return err
	}
	switch sub {
	case "check":
		msg, err := rebuild.Check(cfg.State.Path)
		if errors.Is(err, rebuild.ErrRunning) {
			return err
		}
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		fmt.Fprint(m.Stdout, msg)
		return nil
	case "compact":
		msg, err := rebuild.Compact(cfg.State.Path)
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		fmt.Fprint(m.Stdout, msg)
		return nil
	}
	return m.stateRebuild(ctx, cfg)
}

// stateRebuild moves the state aside and records every file that already
// has a result or error file, so nothing finished is submitted again.
func (m *Main) stateRebuild(ctx context.Context, cfg *config.Config) error {
	res, err := rebuild.Run(ctx, cfg, time.Now())
	if res.Aside != "" {
		fmt.Fprintf(m.Stdout, "moved the old state to %s\n", res.Aside)
	}
	if err != nil {
		return err
	}
	for _, p := range res.Unreadable {
		fmt.Fprintf(m.Stdout, "could not read %s: grant the ppsync user access, then run the rebuild again\n", p)
	}
	fmt.Fprintf(m.Stdout, "rebuilt %s: %d files with results, %d with error files (not resent; 'ppsync retry --failed' sends them again).\n"+
		"Files that were in flight when the old state broke have no result yet and are submitted again at the next start.\n", cfg.State.Path, res.Done, res.Failed)
	return nil
}
