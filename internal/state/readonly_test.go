package state_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func TestOpenReadOnlyNeverCreatesOrWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "state.db")
	if _, err := state.OpenReadOnly(path, 100*time.Millisecond); !errors.Is(err, state.ErrNotCreated) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Fatalf("OpenReadOnly created the folder: %v", err)
	}
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.OpenReadOnly(path, 100*time.Millisecond); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("held file: %v", err)
	}
	if err := st.Update(func(tx *state.Tx) error { return tx.SeedFile(state.File{Path: "/a.pdf", State: state.FileDone}) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro, err := state.OpenReadOnly(path, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Check(); err != nil {
		t.Fatal(err)
	}
	if err := ro.Update(func(tx *state.Tx) error { return tx.SeedFile(state.File{Path: "/b.pdf"}) }); err == nil {
		t.Fatal("a read-only store accepted a write")
	}
	n := 0
	_ = ro.View(func(tx *state.Tx) error { return tx.Files(func(state.File) error { n++; return nil }) })
	if n != 1 {
		t.Fatalf("read %d files, want 1", n)
	}
}
