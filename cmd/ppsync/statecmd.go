package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/rebuild"
	"github.com/ppsync/ppsync/internal/state"
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
		return m.stateCheck(cfg)
	case "compact":
		return m.stateCompact(cfg)
	}
	return m.stateRebuild(ctx, cfg)
}

// stateCompact rewrites the state file offline; the daemon does the same
// at start-up once free pages make up half of a large file.
func (m *Main) stateCompact(cfg *config.Config) error {
	if _, err := os.Stat(cfg.State.Path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(m.Stdout, "state %s: not created yet; nothing to compact\n", cfg.State.Path)
		return nil
	}
	start := time.Now()
	cs, err := state.Compact(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return &exitError{code: exitFailed, err: fmt.Errorf("ppsync is running and holds %s: stop ppsync first, then run 'ppsync state compact' again", cfg.State.Path)}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(m.Stdout, "compacted %s: %s before, %s after (%s)\n", cfg.State.Path, sizeText(cs.Before), sizeText(cs.After),
		time.Since(start).Round(time.Millisecond))
	return nil
}

// sizeText prints a byte count the way people read file sizes.
func sizeText(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", b)
}

func (m *Main) stateCheck(cfg *config.Config) error {
	st, err := state.OpenReadOnly(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return fmt.Errorf("ppsync is running and holds %s: stop it first ('ppsync status' works while it runs)", cfg.State.Path)
	}
	if errors.Is(err, state.ErrNotCreated) {
		fmt.Fprintf(m.Stdout, "state %s: not created yet; the service creates it when it first starts\n", cfg.State.Path)
		return nil
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	v, _ := st.Schema()
	files, docs := map[string]int{}, map[string]int{}
	batches := 0
	_ = st.View(func(tx *state.Tx) error {
		_ = tx.Files(func(f state.File) error { files[string(f.State)]++; return nil })
		_ = tx.Docs(func(d state.Doc) error { docs[string(d.State)]++; return nil })
		return tx.Batches(func(state.Batch) error { batches++; return nil })
	})
	fmt.Fprintf(m.Stdout, "state %s: consistent, schema %d\n  files: %v\n  documents: %v\n  submissions waiting to be confirmed: %d\n",
		cfg.State.Path, v, files, docs, batches)
	return nil
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
