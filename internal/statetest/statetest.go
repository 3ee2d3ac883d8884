// Package statetest opens state stores for tests. It is for tests only: it
// writes file records with the state's test-only writer.
package statetest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// Open opens a state store in a temporary folder, closed when the test
// ends, holding files as given (written as they are, without the life
// cycle's checks).
func Open(tb testing.TB, files ...state.File) *state.Store {
	tb.Helper()
	st, err := state.Open(filepath.Join(tb.TempDir(), "state.db"), time.Second)
	if err == nil {
		tb.Cleanup(func() { st.Close() })
		err = st.Update(func(tx *state.Tx) error {
			for _, f := range files {
				if err := tx.SeedFile(f); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
