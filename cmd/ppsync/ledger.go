package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/stageopts"
)

func (m *Main) runLedger(ctx context.Context, args []string) error {
	_, cfg, err := m.subcommand("ledger", args, [][2]string{
		{"rebuild", "regenerate every inbox's ledger from its result files"},
	})
	if err != nil {
		return err
	}
	// The parser's schema gives the columns; without a key (or an API that
	// answers) they come from the documents' own keys.
	var parsers daemon.Parsers
	if key, err := cfg.ResolveAPIKey(m.Getenv); err == nil {
		if c, err := stageopts.NewClient(cfg, key); err == nil {
			parsers = c
		}
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	done, err := daemon.RebuildLedgers(ctx, cfg, parsers, log)
	for _, r := range done {
		fmt.Fprintf(m.Stdout, "ledger %s: %d documents (inbox %s)\n", r.Ledger, r.Documents, r.Inbox)
		if r.SchemaErr != nil {
			fmt.Fprintf(m.Stdout, "  columns from the documents' keys, not the parser's schema: %v\n", r.SchemaErr)
		}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if len(done) == 0 {
		return &exitError{code: exitFailed, err: errors.New("no inbox in " + cfg.File + " has a ledger: add ledger = \"invoices.csv\" to an [[inbox]]")}
	}
	return nil
}
