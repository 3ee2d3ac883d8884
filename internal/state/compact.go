package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds the bytes bbolt.Compact copies per transaction.
const compactTxSize = 4 << 20

// Compact writes a compacted copy of the open store to dst (mode 0600),
// which must not exist. The store stays usable meanwhile; writes made
// after the copy began are not in it.
func (s *Store) Compact(dst string) error {
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compact state %s into %s: %w", s.path, dst, err)
	}
	if err := bolt.Compact(out, s.db, compactTxSize); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("compact state %s into %s: %w", s.path, dst, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return fmt.Errorf("compact state %s into %s: %w", s.path, dst, err)
	}
	return nil
}

// CompactStats gives a state file's size before and after compaction.
type CompactStats struct {
	Before, After int64
}

// Compact rewrites the state file at path without its free pages and puts
// the result in its place atomically (mode 0600). The file must not be in
// use: a running ppsync holds its lock and Compact fails with ErrLocked
// after timeout. On any error the original file is left as it was.
func Compact(path string, timeout time.Duration) (CompactStats, error) {
	var cs CompactStats
	fi, err := os.Stat(path)
	if err != nil {
		return cs, fmt.Errorf("compact state %s: %w", path, err)
	}
	cs.Before = fi.Size()
	s, err := Open(path, timeout)
	if err != nil {
		return cs, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".compact")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.Close()
		return cs, fmt.Errorf("compact state %s: removing an old %s: %w", path, tmp, err)
	}
	if err := s.Compact(tmp); err != nil {
		s.Close()
		return cs, err
	}
	if err := syncFile(tmp); err != nil {
		s.Close()
		os.Remove(tmp)
		return cs, fmt.Errorf("compact state %s: %w", path, err)
	}
	// Where the platform allows renaming over an open file, the lock is held
	// until the new file is in place; Open checks that the file it locked is
	// still the one at the path, so a ppsync that waited for the lock does
	// not go on with the old file.
	if runtime.GOOS == "windows" {
		if err := s.Close(); err != nil {
			os.Remove(tmp)
			return cs, fmt.Errorf("compact state %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		if runtime.GOOS != "windows" {
			s.Close()
		}
		os.Remove(tmp)
		return cs, fmt.Errorf("compact state %s: replacing it with the compacted copy: %w", path, err)
	}
	if runtime.GOOS != "windows" {
		if err := s.Close(); err != nil {
			return cs, fmt.Errorf("compact state %s: %w", path, err)
		}
	}
	syncDir(filepath.Dir(path))
	if fi, err := os.Stat(path); err == nil {
		cs.After = fi.Size()
	}
	return cs, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename durable where the platform allows it; Windows
// cannot open a directory for sync, and the rename is durable there anyway.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Space says how much of the state file is free pages.
type Space struct {
	FileSize  int64 // bytes on disk
	FreeBytes int64 // bytes in free and pending pages
}

// Ratio is the free fraction of the file.
func (sp Space) Ratio() float64 {
	if sp.FileSize <= 0 {
		return 0
	}
	return float64(sp.FreeBytes) / float64(sp.FileSize)
}

// Space reports the state file's size and free pages.
func (s *Store) Space() (Space, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return Space{}, fmt.Errorf("state %s: %w", s.path, err)
	}
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
	return Space{FileSize: fi.Size(), FreeBytes: free}, nil
}

// NeedsCompact reports whether free pages make up more than ratio of the
// file and the file is larger than minSize: the moment for the daemon to
// compact (with Compact, while the store is closed).
func (s *Store) NeedsCompact(ratio float64, minSize int64) (bool, Space, error) {
	sp, err := s.Space()
	if err != nil {
		return false, sp, err
	}
	return sp.FileSize > minSize && sp.Ratio() > ratio, sp, nil
}

// replaced reports whether the file at path is no longer the one that was
// there (before) when it was opened.
func replaced(path string, before os.FileInfo) bool {
	now, err := os.Stat(path)
	return before != nil && err == nil && !os.SameFile(before, now)
}
