package state_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func TestVersionChangesWithEveryWrite(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	version := func() uint64 {
		var v uint64
		if err := st.View(func(tx *state.Tx) error { v = tx.Version(); return nil }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v1 := version()
	if v2 := version(); v2 != v1 {
		t.Fatalf("version moved from %d to %d without a write", v1, v2)
	}
	if err := st.Update(func(tx *state.Tx) error { return tx.PutMeta("k", "v") }); err != nil {
		t.Fatal(err)
	}
	if v3 := version(); v3 == v1 {
		t.Fatalf("version stayed %d after a write", v3)
	}
}
