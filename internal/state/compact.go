package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds the bytes a compaction copies per transaction: what
// one transaction copies is held in the heap (its nodes, then the pages it
// writes) until it commits. At 4 MiB the daemon's anonymous memory rose
// from 34 to 51 MiB while it compacted a state of a million records in
// place; 1 MiB costs a few more commits.
const compactTxSize = 1 << 20

// compactReleaseEvery is how many bytes of records a compaction in place
// reads between two releases of the old file's mapped pages.
const compactReleaseEvery = 1 << 20

// compactCopy copies every bucket and record of src into dst as
// bbolt.Compact does (nested buckets, their sequences, full pages, a commit
// every txMaxSize bytes), and calls release every compactReleaseEvery bytes
// read. Releasing by the work done, not by the clock, keeps what the copy
// maps bounded however slowly the machine runs it.
func compactCopy(dst, src *bolt.DB, txMaxSize int64, release func()) (err error) {
	tx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var size, read int64
	put := func(path [][]byte, k, v []byte, seq uint64) error {
		sz := int64(len(k) + len(v))
		if size+sz > txMaxSize {
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = dst.Begin(true); err != nil {
				return err
			}
			size = 0
		}
		size += sz
		if read += sz; read >= compactReleaseEvery {
			read = 0
			release()
		}
		if len(path) == 0 {
			b, err := tx.CreateBucket(k)
			if err != nil {
				return err
			}
			return b.SetSequence(seq)
		}
		b := tx.Bucket(path[0])
		for _, p := range path[1:] {
			b = b.Bucket(p)
		}
		b.FillPercent = 1.0
		if v == nil {
			nb, err := b.CreateBucket(k)
			if err != nil {
				return err
			}
			return nb.SetSequence(seq)
		}
		return b.Put(k, v)
	}
	var walk func(b *bolt.Bucket, path [][]byte) error
	walk = func(b *bolt.Bucket, path [][]byte) error {
		return b.ForEach(func(k, v []byte) error {
			if v != nil {
				return put(path, k, v, 0)
			}
			sub := b.Bucket(k)
			if err := put(path, k, nil, sub.Sequence()); err != nil {
				return err
			}
			return walk(sub, append(slices.Clip(path), k))
		})
	}
	if err := src.View(func(stx *bolt.Tx) error {
		return stx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := put(nil, name, nil, b.Sequence()); err != nil {
				return err
			}
			return walk(b, [][]byte{name})
		})
	}); err != nil {
		return err
	}
	return tx.Commit()
}

// Compact writes a compacted copy of the open store to dst (mode 0600),
// which must not exist. The store stays usable meanwhile; writes made
// after the copy began are not in it.
func (s *Store) Compact(dst string) error {
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compact state %s into %s: %w", s.path, dst, err)
	}
	s.dbMu.RLock()
	err = compactCopy(out, s.db, compactTxSize, func() {})
	s.dbMu.RUnlock()
	if err != nil {
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
	FreeBefore    int64 // bytes of free pages before (CompactInPlace)
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
	tmp := compactTemp(path)
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

// compactTemp is where a compacted copy of the state at path is written
// before it replaces the file.
func compactTemp(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".compact")
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
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		return Space{}, fmt.Errorf("state %s: %w", s.path, err)
	}
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(s.pageSize)
	return Space{FileSize: fi.Size(), FreeBytes: free}, nil
}

// NeedsCompact reports whether free pages make up more than ratio of the
// file and the file is larger than minSize: the moment to compact.
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

// When free pages make up more than CompactRatio of a state file larger
// than CompactMinSize, the file is worth compacting: the free pages cost
// the process memory (bbolt keeps every free page's id in memory and
// writes the list with every commit) and the disk their size.
const (
	CompactRatio   = 0.5
	CompactMinSize = 64 << 20
)

// CompactIfNeeded compacts the store in place (CompactInPlace) when free
// pages pass CompactRatio and CompactMinSize, and reports whether it did.
// Checking costs a stat of the file.
func (s *Store) CompactIfNeeded() (bool, CompactStats, error) {
	need, _, err := s.NeedsCompact(CompactRatio, CompactMinSize)
	if err != nil || !need {
		return false, CompactStats{}, err
	}
	cs, err := s.CompactInPlace()
	return err == nil, cs, err
}

// CompactInPlace rewrites the open store's file without its free pages and
// goes on with the new file. Every other use of the store waits meanwhile
// (its cost is a copy of the live records: see docs/state-compaction.md).
// The compacted copy is written beside the file (".<name>.compact", mode
// 0600), made durable and renamed over it while both files stay locked, so
// another process never gets the file's lock in between. On any error
// before the rename the store goes on with the file as it was and the copy
// is removed.
func (s *Store) CompactInPlace() (CompactStats, error) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	var cs CompactStats
	fail := func(step string, err error) (CompactStats, error) {
		return cs, fmt.Errorf("compact state %s in place: %s: %w (ppsync goes on with the file as it was; "+
			"make room on its disk for a copy of its live records, or stop ppsync and run 'ppsync state compact -c CONFIG')", s.path, step, err)
	}
	if s.opts.ReadOnly {
		return fail("opened read-only", errors.New("cannot write"))
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fail("reading its size", err)
	}
	cs.Before = fi.Size()
	st := s.db.Stats()
	cs.FreeBefore = int64(st.FreePageN+st.PendingPageN) * int64(s.pageSize)
	var last uint64
	if err := s.db.View(func(tx *bolt.Tx) error { last = uint64(tx.ID()); return nil }); err != nil {
		return fail("reading its last transaction", err)
	}

	tmp := compactTemp(s.path)
	if err := s.fault("remove"); err != nil {
		return fail("removing an old "+tmp, err)
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail("removing an old "+tmp, err)
	}
	opts := s.opts
	out, err := bolt.Open(tmp, 0o600, &opts)
	if err != nil {
		os.Remove(tmp)
		return fail("creating "+tmp, err)
	}
	abort := func(step string, err error) (CompactStats, error) {
		out.Close()
		os.Remove(tmp)
		return fail(step, err)
	}
	if err := s.fault("copy"); err != nil {
		return abort("copying the live records to "+tmp, err)
	}
	// The copy reads every live page of the old file through its mapping:
	// hand them back as it goes, or the whole file counts in the daemon's
	// memory (800 MiB for a state of a million records half pruned).
	release := s.releaser(tmp)
	err = compactCopy(out, s.db, compactTxSize, release)
	release()
	if err != nil {
		return abort("copying the live records to "+tmp, err)
	}
	if err := s.fault("sync"); err != nil {
		return abort("syncing "+tmp, err)
	}
	if err := out.Sync(); err != nil {
		return abort("syncing "+tmp, err)
	}
	// Versions of the new file's transactions, whose ids start again from
	// 1, come after every version of the old one.
	version := s.version + last + 1
	if runtime.GOOS == "windows" {
		if err := s.swapClosed(out, tmp); err != nil {
			return cs, err
		}
	} else {
		if err := s.fault("rename"); err != nil {
			return abort("replacing the file with "+tmp, err)
		}
		// The copy stays open, and so locked, across the rename: a process
		// waiting for the old file's lock finds, once it has it, that the
		// file was replaced and waits for the new one's (see Open).
		if err := os.Rename(tmp, s.path); err != nil {
			return abort("replacing the file with "+tmp, err)
		}
		syncDir(filepath.Dir(s.path))
		// Every record is in the new file, committed and synced; closing the
		// old one (unlinked now) can lose nothing.
		_ = s.db.Close()
		s.db, s.pageSize = out, out.Info().PageSize
	}
	s.version = version
	if fi, err := os.Stat(s.path); err == nil {
		cs.After = fi.Size()
	}
	return cs, nil
}

// swapClosed puts the compacted copy at tmp in the store's place where an
// open file cannot be renamed over (Windows): both are closed, the copy
// renamed, and the file reopened. Another process may take the lock
// between the close and the reopening, as with Compact.
func (s *Store) swapClosed(out *bolt.DB, tmp string) error {
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact state %s in place: closing %s: %w (ppsync goes on with the file as it was)", s.path, tmp, err)
	}
	if err := s.db.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact state %s in place: closing it: %w (restart ppsync)", s.path, err)
	}
	rerr := os.Rename(tmp, s.path)
	if rerr != nil {
		os.Remove(tmp)
	}
	db, err := openDB(s.path, s.opts)
	if err != nil {
		return fmt.Errorf("compact state %s in place: reopening it: %w (restart ppsync)", s.path, err)
	}
	s.db, s.pageSize = db, db.Info().PageSize
	if rerr != nil {
		return fmt.Errorf("compact state %s in place: replacing the file with %s: %w (ppsync goes on with the file as it was)", s.path, tmp, rerr)
	}
	return nil
}

// fault fails the given step of CompactInPlace when a test asks for it.
func (s *Store) fault(step string) error {
	if s.compactFault == nil {
		return nil
	}
	return s.compactFault(step)
}
