package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/notify"
)

// NotifyTest is 'ppsync notify test': a test message to every [[notify]]
// target of cfg, each given timeout to accept it, and a line per target
// saying what happened.
func (c Console) NotifyTest(ctx context.Context, cfg *config.Config, timeout time.Duration) error {
	if len(cfg.Notify) == 0 {
		return fmt.Errorf("%s has no [[notify]] target: add one (see docs/notifications.md)", cfg.File)
	}
	targets, err := notify.FromConfig(cfg, c.Getenv, nil)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	return writeNotifyResults(c.Stdout, notify.SendTest(ctx, targets, host, timeout))
}

func writeNotifyResults(out io.Writer, results []notify.TestResult) error {
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(out, "%-16s FAILED  %s: %v\n", r.Name, r.Where, r.Err)
			continue
		}
		fmt.Fprintf(out, "%-16s sent    %s\n", r.Name, r.Where)
	}
	if failed > 0 {
		return Failed(fmt.Errorf("%d of %d notification targets did not accept the test message: check each URL (see docs/notifications.md)", failed, len(results)))
	}
	return nil
}
