package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/rebuild"
)

// State is 'ppsync state check|compact|rebuild' on cfg's state file.
func (c Console) State(ctx context.Context, cfg *config.Config, action string) error {
	switch action {
	case "check":
		msg, err := rebuild.Check(cfg.State.Path)
		if errors.Is(err, rebuild.ErrRunning) {
			return err
		}
		if err != nil {
			return Failed(err)
		}
		fmt.Fprint(c.Stdout, msg)
		return nil
	case "compact":
		msg, err := rebuild.Compact(cfg.State.Path)
		if err != nil {
			return Failed(err)
		}
		fmt.Fprint(c.Stdout, msg)
		return nil
	}
	// rebuild moves the state aside and records every file that already
	// has a result or error file, so nothing finished is submitted again.
	res, err := rebuild.Run(ctx, cfg, time.Now())
	if res.Aside != "" {
		fmt.Fprintf(c.Stdout, "moved the old state to %s\n", res.Aside)
	}
	if err != nil {
		return err
	}
	for _, p := range res.Unreadable {
		fmt.Fprintf(c.Stdout, "could not read %s: grant the ppsync user access, then run the rebuild again\n", p)
	}
	fmt.Fprintf(c.Stdout, "rebuilt %s: %d files with results, %d with error files (not resent; 'ppsync retry --failed' sends them again).\n"+
		"Files that were in flight when the old state broke have no result yet and are submitted again at the next start.\n", cfg.State.Path, res.Done, res.Failed)
	return nil
}
