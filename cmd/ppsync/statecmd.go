package main

import "context"

func (m *Main) runState(ctx context.Context, args []string) error {
	sub, cfg, err := m.subcommand("state", args, [][2]string{
		{"check", "check the state file (ppsync stopped)"},
		{"rebuild", "move a damaged state aside and rebuild it from the inboxes' result files"},
		{"compact", "rewrite the state file without its free pages (ppsync stopped)"},
	})
	if err != nil {
		return err
	}
	return m.console().State(ctx, cfg, sub)
}
