package state

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/procmaps"
)

// ReleaseMapped hands the state file's pages that this process has read
// back to the page cache. bbolt reads the file through a read-only shared
// mapping, and every page a lookup or a pass over the records touched
// stays counted in the process's resident memory until the kernel needs
// it; after a pass over many records (a prune) or a long backlog, that is
// most of the file. The pages stay in the page cache, so the next read of
// one is a minor fault, not a disk read. The mapping is held still (a read
// transaction) while it is released.
func (s *Store) ReleaseMapped() error {
	// The file at the path is the one mapped only while no compaction can
	// swap it.
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.release()
}

// releaseMapped is ReleaseMapped from within a transaction, which holds
// the mapping still: bbolt remaps the file only in a write transaction
// (the one running here, if any) and waits for every read transaction
// first. Transactions call it (through releaseIfOver) as they go and as
// they end, and the daemon's maintainer on a timer, when the process's
// resident file-backed memory grew by more than mappedBudget.
func (t *Tx) releaseMapped() error {
	if t.s == nil {
		return nil
	}
	t.s.releases.Add(1)
	defer t.s.noteReleased()
	ms, err := t.s.mapped(t.tx.DB())
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := dontNeed(m); err != nil {
			return fmt.Errorf("state %s: release mapped pages: %w", t.s.path, err)
		}
	}
	return nil
}

// residentFileBytes is how much file-backed memory this process has
// resident: the third field of /proc/self/statm ("shared", the kernel's
// RssFile and RssShmem counters), in bytes. It counts every file page the
// process maps, the binary's code included, so it is compared with itself
// right after a release (Store.baseline), never with the file's size. The
// kernel keeps the counters as it maps and unmaps pages: reading them
// walks no page table (unlike /proc/self/smaps), and costs an open, a read
// and a close. (mincore would tell which pages of the file are in the page
// cache, which they stay after a release: not what the process maps.)
func residentFileBytes() (int64, error) {
	file, _, err := residentBytes()
	return file, err
}

// residentBytes is residentFileBytes, and the whole resident set (the
// second field of the same line: anonymous and file-backed pages alike),
// from one read.
func residentBytes() (file, total int64, err error) {
	var g gauge
	defer g.close()
	return g.read()
}

// gauge reads this process's resident memory from /proc/self/statm (see
// residentFileBytes), keeping the file open: a look is then one pread,
// where an open, a read and a close cost three system calls (the kernel
// writes the line afresh for every read at offset zero).
type gauge struct {
	mu sync.Mutex
	f  *os.File
}

// read is residentBytes through the gauge's open file, opened on first use.
func (g *gauge) read() (file, total int64, err error) {
	f, err := g.file()
	if err != nil {
		return 0, 0, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %w", err)
	}
	var buf [128]byte
	n := 0
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Pread(int(fd), buf[:], 0)
		return true
	}); err != nil {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %w", err)
	}
	if rerr != nil {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %w", rerr)
	}
	resident, shared, err := statmResident(buf[:max(n, 0)])
	if err != nil {
		return 0, 0, err
	}
	page := int64(os.Getpagesize())
	return shared * page, resident * page, nil
}

func (g *gauge) file() (*os.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f == nil {
		f, err := os.Open("/proc/self/statm")
		if err != nil {
			return nil, fmt.Errorf("read /proc/self/statm: %w", err)
		}
		g.f = f
	}
	return g.f, nil
}

// close closes the gauge's file; a later read opens it again.
func (g *gauge) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.f != nil {
		_ = g.f.Close()
		g.f = nil
	}
}

// statmResident parses the second and third fields of a line of
// /proc/PID/statm ("size resident shared text lib data dt", in pages).
func statmResident(b []byte) (resident, shared int64, err error) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %q has no third field", b)
	}
	resident, err = strconv.ParseInt(string(f[1]), 10, 64)
	if err == nil {
		shared, err = strconv.ParseInt(string(f[2]), 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/self/statm: %w", err)
	}
	return resident, shared, nil
}

// mapped is where db, open in a transaction of the caller, is mapped. It
// reads /proc/self/maps only when the mapping moved or the file grew since
// the last look: a release then costs one madvise. A mapping bbolt grew in
// place (same start, same file size until its commit) is larger than the
// range remembered, never smaller, so the range released is always the
// file's; a store reopened (compaction in place) is another db.
func (s *Store) mapped(db *bolt.DB) ([]mapping, error) {
	data := db.Info().Data
	var st syscall.Stat_t
	if err := syscall.Stat(s.path, &st); err != nil {
		return nil, fmt.Errorf("state %s: %w", s.path, err)
	}
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	if c := s.mapCache; c.db == db && c.data == data && c.size == st.Size {
		return c.ms, nil
	}
	ms, err := s.mappings()
	if err != nil {
		return nil, err
	}
	s.mapCache = mapCache{db: db, data: data, size: st.Size, ms: ms}
	return ms, nil
}

// mappings lists where this process maps the state file.
func (s *Store) mappings() ([]mapping, error) { return mappingsOf(s.path) }

// mappingsOf lists where this process maps the file at path.
func mappingsOf(path string) ([]mapping, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, nil
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("state %s: release mapped pages: %w", path, err)
	}
	var ms []mapping
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		if start, end, ok := mappingOf(sc.Text(), uint64(sys.Dev), sys.Ino); ok {
			ms = append(ms, mapping{start, end})
		}
	}
	return ms, nil
}

func dontNeed(m mapping) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); e != 0 {
		return e
	}
	return nil
}

// mappingOf parses one line of /proc/self/maps and reports its range when
// it maps the file with the given device and inode.
func mappingOf(line string, dev, ino uint64) (start, end uintptr, ok bool) {
	m, ok := procmaps.Parse(line)
	if !ok || !m.Of(dev, ino) {
		return 0, 0, false
	}
	return m.Start, m.End, true
}

// releaser returns what hands the file's mapped pages back during a pass
// that reads the whole file, as a compaction does, and those of the files
// at the paths written (the compaction's copy, whose own mapping bbolt
// reads as it builds it). The caller holds dbMu for writing and the pass
// only reads the store: nothing can remap the file meanwhile, so its place
// is read once; a file being written is remapped as it grows, so its place
// is read again at each release.
func (s *Store) releaser(written ...string) func() {
	ms, _ := s.mappings()
	return func() {
		for _, m := range ms {
			_ = dontNeed(m)
		}
		for _, p := range written {
			ws, _ := mappingsOf(p)
			for _, m := range ws {
				_ = dontNeed(m)
			}
		}
	}
}
