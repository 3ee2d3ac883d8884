package state

// bbolt reads the state through a shared read-only mapping, and every page
// a lookup touches (and the 64 KiB the kernel maps around it) counts in the
// process's resident memory until it is handed back (Store.ReleaseMapped).
// A release is a madvise over the whole mapping: a TLB shootdown on every
// core that ran the process, and every later lookup faults its pages in
// again. So the pages are handed back by how much is mapped, not by how
// many records were touched: the process's resident file-backed memory
// (/proc/self/statm, see gauge) is looked at now and then, and the pages go
// back only once it grew by more than mappedBudget since the last release,
// and only while the whole process holds more than the floor the daemon
// sets (Store.KeepMappedUpTo): a state smaller than the budget, or a
// process well under its memory target, never hands its pages back.

// mappedBudget is how much the process's resident file-backed memory may
// grow above what it was right after the last release before the state's
// mapped pages are handed back again. The daemon's memory target is 64 MiB
// of peak resident memory: the heap is held at its 32 MiB soft limit during
// a backlog and the binary's code and read-only data take some 19 MiB (12-14
// MiB as the daemon hands them back, see internal/codepages), which leaves
// some 13 MiB for the state. What is mapped can pass the budget by
// what was touched since the last look (16 records of a transaction, 16
// lookups of small transactions, or one commit of ten documents: 1-2 MiB
// each), so 4 MiB keeps the state under about 6 MiB, while a state of a
// few MiB, that of some thousand documents, is never released.
const mappedBudget = 4 << 20

// opsPerCheck is how many records a transaction reads or writes between
// two looks at how much is mapped. Records looked up by content hash lie
// anywhere in the file, and each read maps the 64 KiB around it (and the
// index and tally pages a write updates as well), so a long transaction
// looks as it goes. (In a write, the commit maps again the pages of every
// record it changed; Update looks after the commit.)
const opsPerCheck = 16

// checkBatch is how many lookups the transactions since the last look may
// have made before the next one looks as it ends. Every lookup counts: a
// record read or written, and a step of an index (a document's files),
// each of which can map a leaf page of its own and the 64 KiB the kernel
// maps around it (fault-around ignores bbolt's MADV_RANDOM). A document's
// finish is a few small read transactions of four or five lookups each,
// run side by side; when only records were counted, 64 of them let some
// 30 such transactions run between two looks, and in a backlog of 100,000
// files what they mapped reached 20 MiB over the budget before a look
// handed it back. At 16 lookups (about 1 MiB mapped) a look comes every
// three or four of them; a look is one read of /proc/self/statm (see
// residentBytes), a system call or two a document. What fewer lookups
// mapped is looked at by the daemon's maintainer every mappedReleaseEvery
// (Store.ReleaseTouched).
const checkBatch = 16

// touch counts a record read or written and, every opsPerCheck, hands the
// mapped pages back if they are over the budget (releaseIfOver). The pages
// stay in the page cache; what the transaction still uses is mapped again
// on its next read, with the same content (nothing is written before the
// commit).
func (t *Tx) touch() {
	if t.ops++; t.ops%opsPerCheck == 0 {
		t.releaseIfOver()
	}
}

// settle adds the lookups the transaction made since its last look (and
// one for a transaction that made none: it read the pages of the buckets
// it opened, which a release hands back too) to the store's count of
// lookups since the last look. Transactions call it as they end.
func (t *Tx) settle() {
	if t.s == nil {
		return
	}
	n := t.ops - t.settled
	if t.ops == 0 {
		n = 1
	}
	t.settled = t.ops
	if n > 0 {
		t.s.noteTouched(int64(n))
	}
}

// noteTouched counts n lookups since the last look; the first after a
// look signals Touched.
func (s *Store) noteTouched(n int64) {
	if s.unchecked.Add(n) == n && s.touched != nil {
		select {
		case s.touched <- struct{}{}:
		default:
		}
	}
}

// Touched is signalled when a record is read or written for the first
// time since the last look at how much of the state is mapped: the
// maintainer looks (ReleaseTouched) a moment after, and not at all while
// the state is not used.
func (s *Store) Touched() <-chan struct{} { return s.touched }

// releaseIfOver is Store.releaseIfOver from within a transaction, which
// holds the mapping still.
func (t *Tx) releaseIfOver() {
	if t.s != nil {
		t.settled = t.ops
		_, _ = t.s.releaseIfOver(t.releaseMapped)
	}
}

// checkDue reports whether a transaction that ends, having made ops
// lookups, should look at how much is mapped: when it alone made a batch
// of them (a write's commit maps again the pages of every record it
// changed, even when it looked as it went), or the transactions since the
// last look did together.
func (s *Store) checkDue(ops int) bool {
	return ops >= checkBatch || s.unchecked.Load() >= checkBatch
}

// releaseIfOver looks at the process's resident file-backed memory and
// calls release (which hands the state's mapped pages back) when it grew by
// more than mappedBudget since the last release; it reports whether it
// released. When the memory cannot be read it releases, as every look did
// before. Looks run side by side: two that find the budget passed both
// release, which costs a madvise and nothing else (a lock here would make
// a walk skip its looks while another look's release waits for bbolt to
// remap the file, and map the whole file meanwhile).
func (s *Store) releaseIfOver(release func() error) (bool, error) {
	s.unchecked.Store(0)
	s.checks.Add(1)
	if !s.overBudget() {
		return false, nil
	}
	return true, release()
}

// overBudget reports whether the process's resident file-backed memory
// grew by more than mappedBudget since the last release (true when it
// cannot be read).
//
// The gauge counts every file page the process maps (the binary's code as
// it runs too), so what grew is not all the state's: a look that finds
// growth elsewhere releases once, and the baseline then includes it. The
// baseline also follows the gauge down (the kernel reclaimed code pages, or
// a compaction or a remap unmapped the old mapping), so growth is counted
// from the lowest point since the last release.
//
// And the pages go back only while the process's whole resident set is
// above the floor set with KeepMappedUpTo: below it they cost nothing
// against the memory target, and every release makes each later lookup
// fault its pages in again (in a backlog of 10,000 files that churn was
// 45 % of the daemon's CPU).
func (s *Store) overBudget() bool {
	now, total, err := s.gauge.read()
	if err != nil {
		return true
	}
	for {
		base := s.baseline.Load()
		if now >= base {
			return now-base > mappedBudget && total > s.keepUpTo.Load()
		}
		if s.baseline.CompareAndSwap(base, now) {
			return false
		}
	}
}

// KeepMappedUpTo lets the state's mapped pages stay while the process's
// whole resident memory (heap, code and mapped files) is at most total
// bytes; above it they are handed back as the budget says. Zero, the
// default, hands them back by the budget alone, whatever the process
// holds. The daemon sets it below its memory target by what can be mapped
// between two looks.
func (s *Store) KeepMappedUpTo(total int64) { s.keepUpTo.Store(total) }

// ReleaseTouched looks at how much of the state is mapped (and hands it
// back when over the budget, see releaseIfOver) when transactions ran since
// the last look; it reports whether it released. The maintainer calls it
// on a timer, so what the last few transactions mapped over the budget does
// not stay mapped while the daemon is idle; a look finds nothing to do when
// nothing ran since the last.
func (s *Store) ReleaseTouched() (bool, error) {
	if s.unchecked.Load() == 0 {
		return false, nil
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.releaseIfOver(s.release)
}

// ReleaseChecks is how many times the process's resident file-backed
// memory was looked at to decide whether to hand the mapped pages back
// (Releases counts the times it did).
func (s *Store) ReleaseChecks() uint64 { return s.checks.Load() }

// noteReleased sets the baseline to the resident file-backed memory right
// after a release.
func (s *Store) noteReleased() {
	if now, _, err := s.gauge.read(); err == nil {
		s.baseline.Store(now)
	}
}
