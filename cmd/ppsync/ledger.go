package main

import (
	"context"
	"errors"
	"fmt"
)

func (m *Main) runLedger(ctx context.Context, args []string) error {
	_, cfg, err := m.subcommand("ledger", args, [][2]string{
		{"rebuild", "regenerate every inbox's ledger from its result files"},
	})
	if err != nil {
		return err
	}
	// The running daemon rebuilds with its API client; offline, the
	// parser's schema gives the columns when the key resolves, else the
	// documents' own keys do.
	t, err := m.targetOf(ctx, cfg)
	if err != nil {
		return err
	}
	ans, err := t.RebuildLedgers(ctx)
	for _, r := range ans.Rebuilt {
		fmt.Fprintf(m.Stdout, "ledger %s: %d documents (inbox %s)\n", r.Ledger, r.Documents, r.Inbox)
		if r.SchemaNote != "" {
			fmt.Fprintf(m.Stdout, "  columns from the documents' keys, not the parser's schema: %s\n", r.SchemaNote)
		}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if len(ans.Rebuilt) == 0 {
		return &exitError{code: exitFailed, err: errors.New("no inbox in " + cfg.File + " has a ledger: add ledger = \"invoices.csv\" to an [[inbox]]")}
	}
	return nil
}
