package state_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// BenchmarkFileLookup reads one file record among 10,000, as the uploader
// does for every reported file.
func BenchmarkFileLookup(b *testing.B) {
	s, err := state.Open(filepath.Join(b.TempDir(), "s.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	if err := s.Update(func(tx *state.Tx) error {
		for i := range n {
			if err := tx.PutFile(state.File{Path: fmt.Sprintf("/inbox/f%05d.pdf", i), State: state.FileDone, SHA256: "x", Size: int64(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		_ = s.View(func(tx *state.Tx) error {
			_, ok, err := tx.File(fmt.Sprintf("/inbox/f%05d.pdf", i))
			if err != nil || !ok {
				b.Fatal("missing record")
			}
			return nil
		})
	}
}
