package state_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// A page that bbolt cannot read, found by a transaction of the running
// daemon, is an error naming the file and the way out (and Damaged fires),
// never a panic; a panic of the caller's own is not mistaken for damage.
func TestDamagedPageInATransactionIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(func(tx *state.Tx) error {
		for i := range 400 {
			f := state.File{Path: fmt.Sprintf("/in/%04d-%s.pdf", i, strings.Repeat("x", 60)), Inbox: "/in", State: state.FileDone}
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every page that is neither a meta page nor free gets a header bbolt
	// refuses: the file is read through a shared mapping, so the running
	// store sees it at once.
	db, err := bolt.Open(path+".copy", 0o600, nil) // page size of this platform
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	db.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(2 * pageSize); off < st.Size(); off += int64(pageSize) {
		if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x77, 0x77, 0xff, 0xff}, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	select {
	case <-s.Damaged():
		t.Fatal("damage reported before any read")
	default:
	}
	err = s.View(func(tx *state.Tx) error { return tx.Files(func(state.File) error { return nil }) })
	if !errors.Is(err, state.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "ppsync state rebuild") {
		t.Fatalf("read of damaged pages: %v", err)
	}
	select {
	case <-s.Damaged():
	default:
		t.Fatal("Damaged not closed")
	}
	if !errors.Is(s.DamageErr(), state.ErrDamaged) {
		t.Errorf("DamageErr = %v", s.DamageErr())
	}

	defer func() {
		if r := recover(); r != "a mistake of our own" {
			t.Errorf("recovered %v, want our own panic re-raised", r)
		}
	}()
	_ = s.View(func(*state.Tx) error { panic("a mistake of our own") })
}
