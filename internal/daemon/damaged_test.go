package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/state"
)

// processed returns a config whose state has n files done, the daemon stopped.
func processed(t *testing.T, e *env, n int) *config.Config {
	t.Helper()
	cfg := e.config("")
	for i := range n {
		write(t, filepath.Join(e.inbox, fmt.Sprintf("f%03d.pdf", i)), pdf(t, i, 1))
	}
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// leafPages lists the state file's leaf pages (records) and its page size.
func leafPages(t *testing.T, path string) (ids []int, pageSize int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; int64(id*pageSize) < tx.Size(); id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p != nil && p.Type == "leaf" {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, pageSize
}

// overwrite writes junk over size bytes of the file at off.
func overwrite(t *testing.T, path string, off, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, size)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

// runDamaged runs the daemon on the damaged state, once or as a daemon,
// and returns its error; a panic fails the test.
func runDamaged(t *testing.T, e *env, cfg *config.Config, once bool) (err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("once=%v: panic: %v", once, r)
		}
	}()
	_, err = daemon.Run(ctx, e.options(cfg, once))
	if ctx.Err() != nil {
		t.Fatalf("once=%v: the daemon ran on a damaged state until the deadline: %v", once, err)
	}
	return err
}

func wantDamaged(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, daemon.ErrCannotRun) || !errors.Is(err, state.ErrDamaged) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "ppsync state rebuild") {
		t.Fatalf("err = %v, want the damaged state named with the way out", err)
	}
}

// A state file whose record pages are damaged stops run --once and run
// with the message 'ppsync state check' gives (the file and the way out),
// never a panic and never a count made up from the damage.
func TestDamagedStatePagesStopTheRunClearly(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := processed(t, e, 80)
	leaves, pageSize := leafPages(t, cfg.State.Path)
	if len(leaves) < 4 {
		t.Fatalf("only %d leaf pages", len(leaves))
	}
	// Overwrite the middle of every other record page, past its header.
	for i, id := range leaves {
		if i%2 == 1 {
			overwrite(t, cfg.State.Path, int64(id*pageSize+pageSize/4), int64(pageSize/2))
		}
	}
	write(t, filepath.Join(e.inbox, "new.pdf"), pdf(t, 500, 1))
	s, err := state.OpenReadOnly(cfg.State.Path, time.Second)
	if err == nil {
		err = s.Check()
		s.Close()
	}
	if !errors.Is(err, state.ErrDamaged) {
		t.Fatalf("state check of the damaged file: %v", err)
	}
	for _, once := range []bool{true, false} {
		err := runDamaged(t, e, cfg, once)
		t.Logf("once=%v: %v", once, err)
		wantDamaged(t, err, cfg.State.Path)
	}
}

// Damage over the middle third of the file (the free page list among it).
func TestDamagedStateMiddleStopsTheRunClearly(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := processed(t, e, 80)
	st, err := os.Stat(cfg.State.Path)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, cfg.State.Path, st.Size()/3, st.Size()/3)
	wantDamaged(t, runDamaged(t, e, cfg, true), cfg.State.Path)
}
