package main

import (
	"context"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/demo"
)

func (m *Main) runDemo(ctx context.Context, args []string) error {
	fs := m.flags("demo", "demo [--dir DIR] [--once]")
	dir := fs.String("dir", "", "folder for the demo (default: a new temporary folder)")
	once := fs.Bool("once", false, "process the samples, print their results and the ledger's path and exit instead of watching")
	verbose := fs.Bool("v", false, "show ppsync's own log lines")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Dir: *dir, Once: *once, Verbose: *verbose, Out: m.Stdout, Log: m.Stderr})
}
