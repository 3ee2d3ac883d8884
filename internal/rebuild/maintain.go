package rebuild

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// lockWait is how long the offline commands wait for the state's lock.
const lockWait = 300 * time.Millisecond

// Check checks the state file at path with ppsync stopped and says what
// it holds, as `ppsync state check` prints it. A state held by a running
// ppsync is an error wrapping ErrRunning; one not created yet is a note,
// not an error.
func Check(path string) (string, error) {
	st, err := state.OpenReadOnly(path, lockWait)
	if errors.Is(err, state.ErrLocked) {
		return "", fmt.Errorf("%w and holds %s: stop it first ('ppsync status' works while it runs)", ErrRunning, path)
	}
	if errors.Is(err, state.ErrNotCreated) {
		return fmt.Sprintf("state %s: not created yet; the service creates it when it first starts\n", path), nil
	}
	if err != nil {
		return "", err
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return "", err
	}
	v, _ := st.Schema()
	files, docs := map[string]int{}, map[string]int{}
	batches := 0
	_ = st.View(func(tx *state.Tx) error {
		_ = tx.Files(func(f state.File) error { files[string(f.State)]++; return nil })
		_ = tx.Docs(func(d state.Doc) error { docs[string(d.State)]++; return nil })
		return tx.Batches(func(state.Batch) error { batches++; return nil })
	})
	return fmt.Sprintf("state %s: consistent, schema %d\n  files: %v\n  documents: %v\n  submissions waiting to be confirmed: %d\n",
		path, v, files, docs, batches), nil
}

// Compact rewrites the state file at path without its free pages, with
// ppsync stopped, and says what it did, as `ppsync state compact` prints
// it (the daemon does the same at start-up once free pages make up half
// of a large file). A state not created yet is a note, not an error.
func Compact(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("state %s: not created yet; nothing to compact\n", path), nil
	}
	start := time.Now()
	cs, err := state.Compact(path, lockWait)
	if errors.Is(err, state.ErrLocked) {
		return "", fmt.Errorf("%w and holds %s: stop ppsync first, then run 'ppsync state compact' again", ErrRunning, path)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("compacted %s: %s before, %s after (%s)\n", path, SizeText(cs.Before), SizeText(cs.After),
		time.Since(start).Round(time.Millisecond)), nil
}

// SizeText prints a byte count the way people read file sizes.
func SizeText(b int64) string {
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
