package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Record pages damaged in the middle of the state file: run --once exits 2
// with the message 'state check' gives (the file, 'ppsync state rebuild'),
// never a panic and never a count made from the damage.
func TestRunOnDamagedStatePagesExitsTwo(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	files := map[string][]byte{}
	for i := range 60 {
		files[fmt.Sprintf("f%02d.pdf", i)] = invoice(t, i)
	}
	cfg, _ := setup(t, files)
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 {
		t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
	}
	statePath := filepath.Join(filepath.Dir(cfg), "ppsync-state.db")
	db, err := bolt.Open(statePath, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	var leaves []int
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; int64(id*pageSize) < tx.Size(); id++ {
			if p, err := tx.Page(id); err != nil {
				return err
			} else if p != nil && p.Type == "leaf" {
				leaves = append(leaves, id)
			}
		}
		return nil
	})
	db.Close()
	if err != nil || len(leaves) < 2 {
		t.Fatalf("leaf pages %v: %v", leaves, err)
	}
	f, err := os.OpenFile(statePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, pageSize/2)
	for i := range junk {
		junk[i] = byte(i*13 + 5)
	}
	for i, id := range leaves {
		if i%2 == 1 {
			if _, err := f.WriteAt(junk, int64(id*pageSize+pageSize/4)); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	if code, _, errOut := run(t, env, "state", "check", "-c", cfg); code != 1 || !strings.Contains(errOut, "ppsync state rebuild") {
		t.Fatalf("state check on the damaged file: %d %q", code, errOut)
	}
	code, out, errOut := run(t, env, "run", "-c", cfg, "--once")
	if code != 2 || !strings.Contains(errOut, statePath) || !strings.Contains(errOut, "ppsync state rebuild") ||
		strings.Contains(errOut, "panic") {
		t.Fatalf("run --once on the damaged state: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out, " done,") {
		t.Errorf("a count was printed from the damaged state: %s", out)
	}
}
