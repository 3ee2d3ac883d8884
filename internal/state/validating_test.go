package state_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func marks(t *testing.T, s *state.Store) map[string]state.Validation {
	t.Helper()
	m := map[string]state.Validation{}
	if err := s.View(func(tx *state.Tx) error {
		return tx.Validations(func(p string, v state.Validation) error { m[p] = v; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// A mark left by a run that stopped while validating is reported once, to
// the next run, for the same life of the file only; the run's own marks
// and cleared marks are not.
func TestValidationMarksSurviveACrashOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	const file = "/in/große.pdf"
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A store that never marked anything has no marks (and no bucket).
	if m := marks(t, s); len(m) != 0 {
		t.Fatalf("marks = %v", m)
	}
	before := time.Now().Add(-time.Second)
	if _, crashed, err := s.BeginValidation(file, 100, 7); err != nil || crashed {
		t.Fatalf("first mark: crashed=%v %v", crashed, err)
	}
	// The same run marking again (two events for one file) is no crash.
	if _, crashed, err := s.BeginValidation(file, 100, 7); err != nil || crashed {
		t.Fatalf("same run: crashed=%v %v", crashed, err)
	}
	if m := marks(t, s); m[file].Size != 100 || m[file].ModTime != 7 || m[file].Started.Before(before) {
		t.Fatalf("marks = %v", m)
	}
	if err := s.EndValidation(file); err != nil {
		t.Fatal(err)
	}
	if m := marks(t, s); len(m) != 0 {
		t.Fatalf("marks after End = %v", m)
	}
	// Now the run dies while validating: the mark stays.
	if _, _, err := s.BeginValidation(file, 100, 7); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BeginValidation("/in/other.pdf", 5, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	since, crashed, err := s.BeginValidation(file, 100, 7)
	if err != nil || !crashed || since.Before(before) || since.After(time.Now()) {
		t.Fatalf("after the crash: crashed=%v since=%v %v, want the crash reported with its time", crashed, since, err)
	}
	// Reported once: the mark is gone, so a retry validates it again.
	if _, ok := marks(t, s)[file]; ok {
		t.Error("the crashed mark was kept")
	}
	if _, crashed, err := s.BeginValidation(file, 100, 7); err != nil || crashed {
		t.Errorf("retry: crashed=%v %v", crashed, err)
	}
	// other.pdf changed since (a new life): validated again.
	if _, crashed, err := s.BeginValidation("/in/other.pdf", 6, 2); err != nil || crashed {
		t.Errorf("new life: crashed=%v %v", crashed, err)
	}
}

// The marks are kept by a compaction like every other record.
func TestValidationMarksSurviveCompaction(t *testing.T) {
	dir := t.TempDir()
	s, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BeginValidation("/in/a.pdf", 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(filepath.Join(dir, "copy.db")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c, err := state.Open(filepath.Join(dir, "copy.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, crashed, err := c.BeginValidation("/in/a.pdf", 1, 2); err != nil || !crashed {
		t.Errorf("after compaction: crashed=%v %v", crashed, err)
	}
}
