package state_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

func TestOpenCreates0600AndRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode = %o, want 600", st.Mode().Perm())
		}
	}
	if v, err := s.Schema(); err != nil || v != state.SchemaVersion {
		t.Errorf("schema = %d, %v", v, err)
	}
	f := state.File{Path: "/in/a.pdf", State: state.FileQueued, SHA256: "abc", Size: 10}
	d := state.Doc{Key: state.DocKey("prs", "abc"), State: state.DocQueued, Files: []string{f.Path}}
	b := state.Batch{Key: "k1", Docs: []string{d.Key}}
	if err := s.Update(func(tx *state.Tx) error {
		return errors.Join(tx.SeedFile(f), tx.SeedDoc(d), tx.PutBatch(b), tx.PutMeta("since", "x"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx *state.Tx) error {
		gf, ok, err := tx.File(f.Path)
		if err != nil || !ok || gf.SHA256 != "abc" {
			t.Errorf("file = %+v %v %v", gf, ok, err)
		}
		gd, ok, _ := tx.Doc(d.Key)
		if !ok || gd.First != f.Path || !tx.Attached(d.Key, f.Path) {
			t.Errorf("doc = %+v", gd)
		}
		n := 0
		_ = tx.Batches(func(state.Batch) error { n++; return nil })
		if n != 1 || tx.Meta("since") != "x" {
			t.Errorf("batches=%d meta=%q", n, tx.Meta("since"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenIsRefusedWithClearMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = state.Open(path, 200*time.Millisecond)
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "another ppsync is using "+path) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("second open hung")
	}
}

func TestDamagedAndNewerFilesAreRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := state.Open(garbage, time.Second)
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), garbage) {
		t.Fatalf("garbage: %v", err)
	}
	// A truncated state file.
	good := filepath.Join(dir, "good.db")
	s, err := state.Open(good, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.db")
	if err := os.WriteFile(cut, b[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Open(cut, time.Second); err == nil || !strings.Contains(err.Error(), cut) {
		t.Fatalf("truncated: %v", err)
	}
	// A file from a newer ppsync.
	newer := filepath.Join(dir, "newer.db")
	db, err := bolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		return m.Put([]byte("schema_version"), []byte("99"))
	})
	db.Close()
	if _, err := state.Open(newer, time.Second); err == nil || !strings.Contains(err.Error(), "upgrade ppsync") {
		t.Fatalf("newer schema: %v", err)
	}
}
