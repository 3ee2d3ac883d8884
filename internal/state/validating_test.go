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

// begin does what validation does before it runs: it reads the marks and,
// unless the file is refused, marks it.
func begin(s *state.Store, path string, size, mtime int64) (since time.Time, refused bool, err error) {
	prior, since, refuse, _, err := s.CheckValidation(path, size, mtime)
	if err != nil || refuse {
		return since, refuse, err
	}
	return time.Time{}, false, s.BeginValidation(path, size, mtime, prior)
}

// reopen closes s and opens the file again: a new run.
func reopen(t *testing.T, s *state.Store, path string) *state.Store {
	t.Helper()
	if s != nil {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A file is refused only when two runs in a row stopped while validating
// the same life of it: once can be chance (a restart, a power cut). A mark
// of the running process itself, a cleared mark and a new life of the
// file do not count.
func TestValidationMarksCountRunsThatStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	const file = "/in/große.pdf"
	s := reopen(t, nil, path)
	// A store that never marked anything has no marks (and no bucket).
	if m := marks(t, s); len(m) != 0 {
		t.Fatalf("marks = %v", m)
	}
	if _, crashed, err := begin(s, file, 100, 7); err != nil || crashed {
		t.Fatalf("first mark: crashed=%v %v", crashed, err)
	}
	// The same run marking again (two events for one file) is no crash.
	if _, crashed, err := begin(s, file, 100, 7); err != nil || crashed {
		t.Fatalf("same run: crashed=%v %v", crashed, err)
	}
	if err := s.EndValidation(file); err != nil {
		t.Fatal(err)
	}
	if m := marks(t, s); len(m) != 0 {
		t.Fatalf("marks after End = %v", m)
	}

	// Run 1 stops while validating both files.
	for _, f := range []string{file, "/in/other.pdf"} {
		if _, _, err := begin(s, f, 100, 7); err != nil {
			t.Fatal(err)
		}
	}
	// Run 2: a single stop may be chance: validated again, counted.
	s = reopen(t, s, path)
	if _, crashed, err := begin(s, file, 100, 7); err != nil || crashed {
		t.Fatalf("after one stop: crashed=%v %v, want another try", crashed, err)
	}
	if m := marks(t, s)[file]; m.Crashes != 1 {
		t.Fatalf("mark after one stop = %+v, want 1 crash counted", m)
	}
	// other.pdf gets through in run 2: its count is gone with its mark.
	if _, crashed, err := begin(s, "/in/other.pdf", 100, 7); err != nil || crashed {
		t.Fatalf("other.pdf: crashed=%v %v", crashed, err)
	}
	if err := s.EndValidation("/in/other.pdf"); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Second)

	// Run 3: run 2 stopped while validating file too: refused, once.
	s = reopen(t, s, path)
	defer s.Close()
	since, crashed, err := begin(s, file, 100, 7)
	if err != nil || !crashed || since.Before(started) || since.After(time.Now()) {
		t.Fatalf("after two stops: crashed=%v since=%v %v, want refused with run 2's time", crashed, since, err)
	}
	if _, ok := marks(t, s)[file]; ok {
		t.Error("the refused file's mark was kept")
	}
	// 'ppsync retry' validates it once more.
	if _, crashed, err := begin(s, file, 100, 7); err != nil || crashed {
		t.Errorf("retry: crashed=%v %v", crashed, err)
	}
	if _, crashed, err := begin(s, "/in/other.pdf", 100, 7); err != nil || crashed {
		t.Errorf("other.pdf, whose last validation ended: crashed=%v %v", crashed, err)
	}
}

// A new life of the file (another size or mtime) starts a new count.
func TestValidationMarksNewLifeStartsAfresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := reopen(t, nil, path)
	if _, _, err := begin(s, "/in/a.pdf", 5, 1); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	if _, _, err := begin(s, "/in/a.pdf", 5, 1); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	defer s.Close()
	if _, crashed, err := begin(s, "/in/a.pdf", 6, 2); err != nil || crashed {
		t.Errorf("new life: crashed=%v %v", crashed, err)
	}
	if m := marks(t, s)["/in/a.pdf"]; m.Crashes != 0 || m.Size != 6 {
		t.Errorf("mark of the new life = %+v", m)
	}
}

// The marks are kept by a compaction like every other record.
func TestValidationMarksSurviveCompaction(t *testing.T) {
	dir := t.TempDir()
	s, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := begin(s, "/in/a.pdf", 1, 2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = reopen(t, nil, filepath.Join(dir, "state.db"))
	if _, _, err := begin(s, "/in/a.pdf", 1, 2); err != nil {
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
	if _, crashed, err := begin(c, "/in/a.pdf", 1, 2); err != nil || !crashed {
		t.Errorf("after compaction: crashed=%v %v", crashed, err)
	}
}
