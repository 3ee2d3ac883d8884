package main

import (
	"context"
	"time"

	"github.com/ppsync/ppsync/internal/cli"
)

// runNotify is 'ppsync notify test -c FILE': a test message to every
// [[notify]] target, and what happened to each.
func (m *Main) runNotify(ctx context.Context, args []string) error {
	_, args, err := m.action("notify", args, []string{"test"},
		"Usage: ppsync notify test -c FILE [--timeout 30s]   send a test message to every [[notify]] target\n", true)
	if err != nil {
		return err
	}
	fs := m.flags("notify test", "notify test -c FILE")
	cfgPath := fs.String("c", "", "config file (required)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each target has to accept the message")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	return m.console().NotifyTest(ctx, cfg, *timeout)
}
