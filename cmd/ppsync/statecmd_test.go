package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func TestStateCompactShrinksAndRefusesWhileRunning(t *testing.T) {
	cfg, _ := setup(t, nil)
	statePath := filepath.Join(filepath.Dir(cfg), "ppsync-state.db")
	if code, out, _ := run(t, nil, "state", "compact", "-c", cfg); code != 0 || !strings.Contains(out, "not created yet") {
		t.Fatalf("compact before the first run: %d %q", code, out)
	}

	// A state that held many records and lost most of them: free pages.
	st, err := state.Open(statePath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	reason := strings.Repeat("x", 2000)
	for batch := range 4 {
		err := st.Update(func(tx *state.Tx) error {
			for i := range 500 {
				p := fmt.Sprintf("/inbox/%d-%d.pdf", batch, i)
				if err := tx.SeedFile(state.File{Path: p, Inbox: "/inbox", State: state.FileDone, Reason: reason}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	keep := "/inbox/0-0.pdf"
	err = st.Update(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error {
			if f.Path == keep {
				return nil
			}
			return tx.SeedDeleteFile(f.Path)
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	// While the state is held, compact refuses and changes nothing.
	before, _ := os.Stat(statePath)
	code, _, errOut := run(t, nil, "state", "compact", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "stop ppsync first") || !strings.Contains(errOut, statePath) {
		t.Errorf("compact of a held state: %d %q", code, errOut)
	}
	if now, _ := os.Stat(statePath); !os.SameFile(before, now) || now.Size() != before.Size() {
		t.Error("a refused compact changed the state file")
	}
	st.Close()

	code, out, errOut := run(t, nil, "state", "compact", "-c", cfg)
	if code != 0 || !strings.Contains(out, "compacted "+statePath) || !strings.Contains(out, "before") || !strings.Contains(out, "after") {
		t.Fatalf("compact: %d %q %q", code, out, errOut)
	}
	after, err := os.Stat(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size()/2 {
		t.Errorf("state %d bytes after compacting, %d before: expected it to shrink by more than half", after.Size(), before.Size())
	}
	if after.Mode().Perm() != 0o600 {
		t.Errorf("compacted state mode %v, want 0600", after.Mode().Perm())
	}
	st, err = state.Open(statePath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	err = st.View(func(tx *state.Tx) error {
		if _, ok, err := tx.File(keep); err != nil || !ok {
			t.Errorf("record %s lost by compacting (%v)", keep, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, nil, "state", "--help"); code != 0 || !strings.Contains(errOut, "state compact") {
		t.Errorf("state --help: %d %q", code, errOut)
	}
}
