package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/notify"
)

// runNotify is 'ppsync notify test -c FILE': a test message to every
// [[notify]] target, and what happened to each.
func (m *Main) runNotify(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(m.Stderr, "Usage: ppsync notify test -c FILE [--timeout 30s]   send a test message to every [[notify]] target")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			about, help := m.about("notify")
			fmt.Fprintf(m.Stderr, "\n%s\n\n%s\n", about, help)
			return flag.ErrHelp
		}
		return cli.ErrUsage
	}
	fs := m.flags("notify test", "notify test -c FILE")
	cfgPath := fs.String("c", "", "config file (required)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each target has to accept the message")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	path, err := m.configOrDefault(*cfgPath)
	if err != nil {
		fs.Usage()
		return err
	}
	cfg, err := m.loadConfig(path)
	if err != nil {
		return err
	}
	if len(cfg.Notify) == 0 {
		return fmt.Errorf("%s has no [[notify]] target: add one (see docs/notifications.md)", cfg.File)
	}
	targets, err := notify.FromConfig(cfg, m.Getenv, nil)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	failed := 0
	for _, r := range notify.SendTest(ctx, targets, host, *timeout) {
		if r.Err != nil {
			failed++
			fmt.Fprintf(m.Stdout, "%-16s FAILED  %s: %v\n", r.Name, r.Where, r.Err)
			continue
		}
		fmt.Fprintf(m.Stdout, "%-16s sent    %s\n", r.Name, r.Where)
	}
	if failed > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d notification targets did not accept the test message: check each URL (see docs/notifications.md)", failed, len(targets))}
	}
	return nil
}
