package main

import (
	"context"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/emulator"
)

func (m *Main) runEmulator(ctx context.Context, args []string) error {
	fs := m.flags("emulator", "emulator [--listen ADDR] [--api-key KEY]... [flags]")
	options := emulator.Flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	listen, o, err := options(m.Stderr)
	if err != nil {
		return err
	}
	return emulator.Serve(ctx, listen, o, m.Stdout)
}
