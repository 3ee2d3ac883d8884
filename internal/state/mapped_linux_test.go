package state

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mappedRSS sums the resident kilobytes of this process's mappings of the
// file at path (/proc/self/smaps).
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := fi.Sys().(*syscall.Stat_t)
	kb, err := mappedRSSOf(uint64(sys.Dev), sys.Ino)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// mappedRSSOf sums the resident kilobytes of this process's mappings of
// the file with device dev and inode ino.
func mappedRSSOf(dev, ino uint64) (int, error) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	kb, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			_, _, in = mappingOf(l, dev, ino)
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb, nil
}

// openTemp opens a new state file in a temporary folder, closed at the end
// of the test.
func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// putFiles writes 1,000 done file records under /in/b/ with a long reason.
func putFiles(tx *Tx, b int, reason string) error {
	for i := range 1000 {
		if err := tx.SeedFile(File{Path: fmt.Sprintf("/in/%d/%04d.pdf", b, i), State: FileDone, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// endCeilingKiB is the most of the state file that may stay mapped after
// a transaction ends: the budget, and the pages the release's own
// transaction maps again. walkCeilingKiB is the most that may be mapped at
// any point of a long pass: the budget, and what the records read since the
// last look (opsPerCheck, checkEvery, walkCheckEvery) map, under 4 MiB.
const (
	endCeilingKiB  = (mappedBudget + 1<<20) >> 10
	walkCeilingKiB = (mappedBudget + 4<<20) >> 10
)

// fillFiles writes batches of 1,000 done file records with reasons of 3,000
// bytes, some 3.2 MiB of the file a batch, and hands the mapped pages back.
func fillFiles(t *testing.T, s *Store, batches int) {
	t.Helper()
	reason := strings.Repeat("r", 3000)
	for b := range batches {
		if err := s.Update(func(tx *Tx) error { return putFiles(tx, b, reason) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
}

// The gauge the release is decided by follows the state's mapped pages: a
// read of every record makes it grow by about what smaps says the file has
// resident, and a release takes that back.
func TestResidentFileBytesFollowsTheMappedState(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	before, err := residentFileBytes()
	if err != nil {
		t.Fatal(err)
	}
	var read, during int64
	if err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { return nil })
		read = int64(mappedRSS(t, path)) << 10
		during, _ = residentFileBytes()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if read < 8<<20 || during-before < read*8/10 {
		t.Fatalf("a read of every record mapped %d KiB of the state (smaps); the gauge grew by %d KiB: want at least 8 MiB and four fifths of it", read>>10, (during-before)>>10)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	after, err := residentFileBytes()
	if err != nil {
		t.Fatal(err)
	}
	if during-after < read*8/10 {
		t.Errorf("the gauge fell by %d KiB when %d KiB of the state were handed back", (during-after)>>10, read>>10)
	}
}

func TestStatmResident(t *testing.T) {
	for _, c := range []struct {
		in               string
		resident, shared int64
		ok               bool
	}{
		{"11503 4312 2716 1199 0 5203 0\n", 4312, 2716, true},
		{"1 2 3", 2, 3, true},
		{"1 2", 0, 0, false},
		{"1 2 x 4 0 5 0\n", 0, 0, false},
		{"1 x 3 4 0 5 0\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		resident, shared, err := statmResident([]byte(c.in))
		if (err == nil) != c.ok || resident != c.resident || shared != c.shared {
			t.Errorf("statmResident(%q) = %d, %d, %v; want %d, %d, ok %v", c.in, resident, shared, err, c.resident, c.shared, c.ok)
		}
	}
}

func TestReleaseMappedDropsReadPages(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 1500)
	for b := range 4 {
		err := s.Update(func(tx *Tx) error {
			return putFiles(tx, b, reason)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Read through bbolt alone, the pages stay mapped until released.
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	before := mappedRSS(t, path)
	if n != 4000 || before < 4000 {
		t.Fatalf("read %d records, %d KiB of the file resident: expected every page read to be resident", n, before)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if after := mappedRSS(t, path); after > before/10 {
		t.Errorf("%d KiB of the state file resident after release, %d before", after, before)
	}
	// The records read as before.
	m := 0
	if err := s.View(func(tx *Tx) error { return tx.Files(func(File) error { m++; return nil }) }); err != nil || m != n {
		t.Errorf("after release: %d records, %v", m, err)
	}
}

// A transaction looks at how much is mapped as it ends, a write once it
// has committed: between two transactions, no more than the budget of the
// file stays mapped, whatever they read.
func TestTransactionsReleaseAsTheyEnd(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 3000)
	// readAll reads every record through bbolt's own cursor (no look
	// within the transaction, each record counted as the Tx's own reads
	// count theirs) and says how much of the file is mapped then.
	readAll := func(tx *Tx) (int, error) {
		err := tx.tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { tx.ops++; return nil })
		return mappedRSS(t, path), err
	}
	for b := range 6 {
		var during int
		if err := s.Update(func(tx *Tx) error {
			if err := putFiles(tx, b, reason); err != nil {
				return err
			}
			var err error
			during, err = readAll(tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if after := mappedRSS(t, path); b > 0 && (during < 2000 || after > endCeilingKiB) {
			t.Errorf("write %d: %d KiB of the state file mapped during it, %d KiB still mapped after it ended (want at most %d)", b, during, after, endCeilingKiB)
		}
	}
	var read int
	if err := s.View(func(tx *Tx) error {
		var err error
		read, err = readAll(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if read < 3*endCeilingKiB {
		t.Fatalf("%d KiB of the state file mapped during a read of every record: want at least %d to tell", read, 3*endCeilingKiB)
	}
	if after := mappedRSS(t, path); after > endCeilingKiB {
		t.Errorf("%d KiB of the state file mapped during a read of every record, %d KiB after the read ended (want at most %d)", read, after, endCeilingKiB)
	}
	// A file compacted in place is another mapping: the release follows it.
	if _, err := s.CompactInPlace(); err != nil {
		t.Fatal(err)
	}
	var during int
	if err := s.Update(func(tx *Tx) error {
		var err error
		if during, err = readAll(tx); err != nil {
			return err
		}
		return tx.PutMeta("k", "v")
	}); err != nil {
		t.Fatal(err)
	}
	if after := mappedRSS(t, path); during < 3*endCeilingKiB || after > endCeilingKiB {
		t.Errorf("after compaction in place: %d KiB of the state file mapped during a write that read every record, %d KiB after (want at most %d)", during, after, endCeilingKiB)
	}
}

// A walk over many open files hands the mapped pages back as it goes: what
// is mapped at any point is at most the budget and what one stretch of
// walkCheckEvery entries read, not the whole index.
func TestEachOpenFileReleasesAsItGoes(t *testing.T) {
	s, path := openTemp(t)
	const n = 5120
	inbox := "/in/" + strings.Repeat("i", 1500) // long keys and values: a large index
	for b := 0; b < n; b += 500 {
		if err := s.Update(func(tx *Tx) error {
			for i := b; i < min(b+500, n); i++ {
				sha := fmt.Sprintf("%064d", i)
				if err := tx.SeedFile(File{Path: fmt.Sprintf("%s/%06d.pdf", inbox, i), Inbox: inbox, ParserID: "prs", SHA256: sha, State: FileQueued}); err != nil {
					return err
				}
				if err := tx.SeedDoc(Doc{Key: DocKey("prs", sha), State: DocQueued}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	walked, peak := 0, 0
	if err := s.View(func(tx *Tx) error {
		return tx.EachOpenFile(func(f OpenFile) error {
			if walked++; walked%200 == 0 {
				peak = max(peak, mappedRSS(t, path))
			}
			if f.DocState != DocQueued {
				return fmt.Errorf("%s: document state %q, want queued", f.Path[len(inbox):], f.DocState)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	// Read without releases, the same walk maps the whole index.
	whole := 0
	if err := s.View(func(tx *Tx) error {
		if err := eachOpen(tx.tx, prefixFile, func(k []byte) error {
			_ = tx.tx.Bucket(bucketOpen).Get([]byte(prefixDoc + DocKey("prs", fmt.Sprintf("%064d", walked%n))))
			return nil
		}); err != nil {
			return err
		}
		whole = mappedRSS(t, path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if walked != n {
		t.Fatalf("walked %d open files, want %d", walked, n)
	}
	if whole < 2*walkCeilingKiB {
		t.Fatalf("%d KiB of the state resident for the index read whole: want at least %d to tell", whole, 2*walkCeilingKiB)
	}
	if peak > walkCeilingKiB {
		t.Errorf("up to %d KiB of the state resident during the walk (want at most %d), %d KiB for the index read whole: the walk did not release as it went", peak, walkCeilingKiB, whole)
	}
}

// Compacting in place reads every live page of the file, without leaving
// them mapped into the process as it goes: the old file's resident mapping,
// sampled while the copy runs, stays far below the live data copied. (The
// process's peak resident memory is no measure here: under the race
// detector and a loaded machine, the heap's shadow alone grows by tens of
// MiB.)
func TestCompactInPlaceDoesNotMapTheFile(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 3000)
	for b := range 16 {
		if err := s.Update(func(tx *Tx) error {
			for i := range 1000 {
				if err := tx.SeedFile(File{Path: fmt.Sprintf("/in/%02d/%04d.pdf", b, i), State: FileDone, Reason: reason}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	live := fileSizeKiB(t, path)
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	old := fi.Sys().(*syscall.Stat_t)
	done := make(chan struct{})
	sampled := make(chan [2]int)
	go func() {
		peak, copyPeak := 0, 0
		for {
			kb, _ := mappedRSSOf(uint64(old.Dev), old.Ino)
			peak = max(peak, kb)
			// The copy bbolt writes, read through its own mapping as it grows.
			if fi, err := os.Stat(compactTemp(path)); err == nil {
				sys := fi.Sys().(*syscall.Stat_t)
				kb, _ := mappedRSSOf(uint64(sys.Dev), sys.Ino)
				copyPeak = max(copyPeak, kb)
			}
			select {
			case <-done:
				sampled <- [2]int{peak, copyPeak}
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	_, err = s.CompactInPlace()
	close(done)
	peaks := <-sampled
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compacting %d KiB of records: up to %d KiB of the old file and %d KiB of the copy resident", live, peaks[0], peaks[1])
	if peaks[0] > live/3 {
		t.Errorf("up to %d KiB of the old file resident while compacting %d KiB of records: the copy left the file mapped", peaks[0], live)
	}
	// Released every compactReleaseEvery bytes copied, the copy has well
	// under that mapped at any time (0.2 MiB here; 1.6 MiB without).
	if peaks[1] > compactReleaseEvery>>10 {
		t.Errorf("up to %d KiB of the copy resident while compacting %d KiB of records (want at most %d): its pages were not handed back as it grew", peaks[1], live, compactReleaseEvery>>10)
	}
	n := 0
	if err := s.View(func(tx *Tx) error { return tx.Files(func(File) error { n++; return nil }) }); err != nil || n != 16000 {
		t.Fatalf("after compaction: %d records, %v", n, err)
	}
}

func fileSizeKiB(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size() / 1024)
}

// filesReadWholeKiB reads every file record without a release and returns
// how much of the state is then resident: what a pass that does not hand
// the pages back maps, at least twice the ceiling for the test to tell.
func filesReadWholeKiB(t *testing.T, s *Store, path string) int {
	t.Helper()
	whole := 0
	if err := s.View(func(tx *Tx) error {
		if err := each(tx.tx, bucketFiles, func(File) error { return nil }); err != nil {
			return err
		}
		whole = mappedRSS(t, path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if whole < 2*walkCeilingKiB {
		t.Fatalf("%d KiB of the state resident for the bucket read whole: want at least %d to tell", whole, 2*walkCeilingKiB)
	}
	return whole
}

// A walk of every file record (the status page's list, 'state check')
// hands the mapped pages back as it goes: it never has the whole bucket
// resident at once, only the budget and what one stretch of walkCheckEvery
// records read.
func TestFilesWalkReleasesAsItGoes(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	walked, peak := 0, 0
	if err := s.View(func(tx *Tx) error {
		return tx.Files(func(File) error {
			if walked++; walked%500 == 0 {
				peak = max(peak, mappedRSS(t, path))
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	whole := filesReadWholeKiB(t, s, path)
	if walked != 8000 {
		t.Fatalf("walked %d files, want 8000", walked)
	}
	if peak > walkCeilingKiB {
		t.Errorf("up to %d KiB of the state resident during the walk (want at most %d), %d KiB for the bucket read whole: the walk did not release as it went", peak, walkCeilingKiB, whole)
	}
}

// The check of every record the daemon runs beside its stages at start
// (CheckRecords) reads every file record three times over (decoded, against
// the open index, against the tally), and hands the mapped pages back as it
// goes in each pass: it looks at every stretch of walkCheckEvery records,
// and never more than the budget and one stretch is mapped at a look or
// left mapped at its end. (Without, a state of a million records was
// resident whole, 1.4 GiB, by the end of the check.)
func TestCheckRecordsReleasesAsItGoes(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	looks, peak := 0, 0
	s.strideLook = func() {
		looks++
		peak = max(peak, mappedRSS(t, path))
	}
	if err := s.CheckRecords(); err != nil {
		t.Fatal(err)
	}
	left := mappedRSS(t, path)
	s.strideLook = nil
	const passes = 3
	if want := passes * 8000 / walkCheckEvery; looks < want {
		t.Errorf("%d looks at what is mapped during the check, want at least %d: a pass over the file records did not look as it went", looks, want)
	}
	whole := filesReadWholeKiB(t, s, path)
	if peak > walkCeilingKiB || left > walkCeilingKiB {
		t.Errorf("up to %d KiB of the state resident during the check and %d KiB after it (want at most %d), %d KiB for the bucket read whole", peak, left, walkCeilingKiB, whole)
	}
}

// smallTransactions runs txs transactions that each read one file record
// of fillFiles' batches (scattered over the file) and write it back: two
// records a transaction, a document's intake in miniature. It returns the
// most of the file mapped after one ended, sampled every tenth.
func smallTransactions(t *testing.T, s *Store, path string, txs, batches int) int {
	t.Helper()
	most := 0
	for i := range txs {
		p := fmt.Sprintf("/in/%d/%04d.pdf", i%batches, (i*397)%1000)
		if err := s.Update(func(tx *Tx) error {
			f, ok, err := tx.File(p)
			if err != nil || !ok {
				return fmt.Errorf("%s: %v %v", p, ok, err)
			}
			f.Reason = fmt.Sprint("seen ", i)
			return tx.SeedFile(f)
		}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			most = max(most, mappedRSS(t, path))
		}
	}
	return most
}

// Small transactions look at what is mapped in batches, one look per
// checkBatch records touched, and a state that all fits in the budget is
// never handed back: its pages stay mapped, and no lookup faults them in
// again.
func TestSmallStateIsNeverReleased(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Update(func(tx *Tx) error { return putFiles(tx, 0, strings.Repeat("r", 200)) }); err != nil {
		t.Fatal(err)
	}
	if kib := fileSizeKiB(t, path); kib*1024 >= mappedBudget {
		t.Fatalf("a state of %d KiB: want it under the budget of %d KiB", kib, mappedBudget>>10)
	}
	const txs = 1000
	releases, checks := s.Releases(), s.ReleaseChecks()
	smallTransactions(t, s, path, txs, 1)
	releases, checks = s.Releases()-releases, s.ReleaseChecks()-checks
	if releases != 0 {
		t.Errorf("%d releases for %d small transactions over a state smaller than the budget, want none", releases, txs)
	}
	if lo, hi := uint64(2*txs/checkBatch-1), uint64(2*txs/checkBatch+1); checks < lo || checks > hi {
		t.Errorf("%d looks at the mapped state for %d small transactions of two records, want %d to %d (one per %d records)", checks, txs, lo, hi, checkBatch)
	}
}

// Small transactions over a state larger than the budget hand the mapped
// pages back when they pass it: what stays mapped after each is bounded by
// the budget and what fewer than checkBatch records map, not by the file.
func TestSmallTransactionsKeepTheBudget(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	if kib := fileSizeKiB(t, path); kib < 3*walkCeilingKiB {
		t.Fatalf("a state of %d KiB: want at least %d KiB to tell", kib, 3*walkCeilingKiB)
	}
	const txs = 1000
	before := s.Releases()
	most := smallTransactions(t, s, path, txs, 8)
	releases := s.Releases() - before
	if releases == 0 {
		t.Error("no release at all")
	}
	// A transaction that does not look as it ends leaves what the records
	// since the last look mapped (fewer than checkBatch) over the budget.
	if most > walkCeilingKiB {
		t.Errorf("%d KiB of the state file mapped after a small transaction (%d releases), want at most %d", most, releases, walkCeilingKiB)
	}
}

// The maintainer's timed look hands back only what transactions mapped
// over the budget: nothing when nothing ran or after a transaction that
// looked as it ended; a look but no release after a small read; a release
// after a read that mapped more than the budget.
func TestTimedReleaseOnlyAfterUnreleasedWork(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	steps := []struct {
		name          string
		run           func() error
		look, release bool
	}{
		{"after a transaction of a batch of records (looked as it ended)", func() error {
			return s.Update(func(tx *Tx) error {
				for i := range checkBatch {
					f, _, err := tx.File(fmt.Sprintf("/in/0/%04d.pdf", i))
					if err != nil {
						return err
					}
					f.Reason = "again"
					if err := tx.SeedFile(f); err != nil {
						return err
					}
				}
				return nil
			})
		}, false, false},
		{"when nothing ran", func() error { return nil }, false, false},
		{"after a read of one record", func() error {
			return s.View(func(tx *Tx) error { _, _, err := tx.File("/in/0/0001.pdf"); return err })
		}, true, false},
		{"after a read of every record (more than the budget)", func() error {
			return s.View(func(tx *Tx) error {
				err := tx.tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { return nil })
				if kib := mappedRSS(t, path); kib < 2*endCeilingKiB {
					return fmt.Errorf("the read mapped %d KiB: want at least %d to tell", kib, 2*endCeilingKiB)
				}
				return err
			})
		}, true, true},
		{"right after that release", func() error { return nil }, false, false},
		{"after a transaction that read no record", func() error {
			return s.View(func(tx *Tx) error { return tx.Batches(func(Batch) error { return nil }) })
		}, true, false},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatal(err)
		}
		releases, checks := s.Releases(), s.ReleaseChecks()
		released, err := s.ReleaseTouched()
		if err != nil {
			t.Fatal(err)
		}
		looked := s.ReleaseChecks()-checks == 1
		if released != st.release || (s.Releases()-releases == 1) != st.release || looked != st.look {
			t.Errorf("%s: released %v (%d releases, %d looks), want released %v, looked %v", st.name, released, s.Releases()-releases, s.ReleaseChecks()-checks, st.release, st.look)
		}
		if kib := mappedRSS(t, path); kib > endCeilingKiB {
			t.Errorf("%s: %d KiB of the state mapped after the timed look, want at most %d", st.name, kib, endCeilingKiB)
		}
	}
}

// The gauge counts every file page the process maps: when other pages go
// (another state closed, code pages reclaimed), the baseline follows it
// down, so what the state maps afterwards is measured from there and not
// hidden behind what went.
func TestBudgetCountsFromTheLowestPoint(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	other, _ := openTemp(t)
	fillFiles(t, other, 8)
	readEvery := func(st *Store) {
		t.Helper()
		if err := st.View(func(tx *Tx) error {
			return tx.tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { return nil })
		}); err != nil {
			t.Fatal(err)
		}
	}
	readOne := func() {
		t.Helper()
		if err := s.View(func(tx *Tx) error { _, _, err := tx.File("/in/0/0001.pdf"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	// The other state mapped whole: s, looking, takes it into its baseline.
	readEvery(other)
	readOne()
	if _, err := s.ReleaseTouched(); err != nil {
		t.Fatal(err)
	}
	// The other state closed: its pages leave the gauge, and s's next look
	// lowers its baseline.
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	readOne()
	if released, err := s.ReleaseTouched(); err != nil || released {
		t.Fatalf("after a read of one record: released %v, %v; want no release", released, err)
	}
	// Now s maps more than the budget: the next look hands it back.
	readEvery(s)
	if kib := mappedRSS(t, path); kib < 2*endCeilingKiB {
		t.Fatalf("a read of every record mapped %d KiB: want at least %d to tell", kib, 2*endCeilingKiB)
	}
	released, err := s.ReleaseTouched()
	if err != nil {
		t.Fatal(err)
	}
	if kib := mappedRSS(t, path); !released || kib > endCeilingKiB {
		t.Errorf("after a read of every record: released %v, %d KiB of the state mapped; want a release, at most %d KiB", released, kib, endCeilingKiB)
	}
}

// Under the floor set with KeepMappedUpTo the pages stay mapped, however
// much the state maps: a read of every record is not handed back while the
// process's whole resident set is below the floor, and is once the floor
// is below it.
func TestPagesStayMappedUnderTheFloor(t *testing.T) {
	s, path := openTemp(t)
	fillFiles(t, s, 8)
	readAll := func() {
		t.Helper()
		if err := s.View(func(tx *Tx) error {
			return tx.tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { return nil })
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, total, err := residentBytes()
	if err != nil {
		t.Fatal(err)
	}
	s.KeepMappedUpTo(total + 1<<30)
	readAll()
	released, err := s.ReleaseTouched()
	if err != nil {
		t.Fatal(err)
	}
	kept := mappedRSS(t, path)
	if released || kept < 2*endCeilingKiB {
		t.Errorf("under the floor: released %v, %d KiB of the state still mapped; want no release and at least %d KiB", released, kept, 2*endCeilingKiB)
	}
	_, total, err = residentBytes()
	if err != nil {
		t.Fatal(err)
	}
	s.KeepMappedUpTo(total - 1<<20)
	readAll()
	released, err = s.ReleaseTouched()
	if err != nil {
		t.Fatal(err)
	}
	if kib := mappedRSS(t, path); !released || kib > endCeilingKiB {
		t.Errorf("over the floor: released %v, %d KiB of the state still mapped; want a release and at most %d KiB", released, kib, endCeilingKiB)
	}
}

// A lookup in an index (whether a file is attached to a document, the
// files waiting on one) maps a leaf of its own as a record read does, and
// counts toward the next look the same: read transactions made only of
// such lookups look at what is mapped once per checkBatch of them. (When
// only records counted, they never looked, and a backlog's finishes, four
// or five lookups each, mapped 20 MiB over the budget between two looks.)
func TestIndexLookupsCountTowardALook(t *testing.T) {
	s, _ := openTemp(t)
	const txs = 400
	checks := s.ReleaseChecks()
	for i := range txs {
		if err := s.View(func(tx *Tx) error {
			key := fmt.Sprintf("doc%04d", i)
			tx.Attached(key, "/in/a.pdf")
			return tx.WaitingFiles(key, func(string) error { return nil })
		}); err != nil {
			t.Fatal(err)
		}
	}
	checks = s.ReleaseChecks() - checks
	if lo, hi := uint64(2*txs/checkBatch-1), uint64(2*txs/checkBatch+1); checks < lo || checks > hi {
		t.Errorf("%d looks at the mapped state for %d transactions of two index lookups, want %d to %d (one per %d lookups)", checks, txs, lo, hi, checkBatch)
	}
}

// The store's gauge keeps /proc/self/statm open and reads it at offset
// zero: every read sees the memory as it is now (here, 8 MiB of a file
// mapped and touched, then unmapped), and a read after close opens it
// again.
func TestGaugeReadsAfresh(t *testing.T) {
	var g gauge
	defer g.close()
	before, total, err := g.read()
	if err != nil || before <= 0 || total < before {
		t.Fatalf("read = %d, %d, %v; want file-backed bytes > 0 within the total", before, total, err)
	}
	const size = 8 << 20
	path := filepath.Join(t.TempDir(), "mapped")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for i := 0; i < size; i += os.Getpagesize() {
		sum += int(b[i])
	}
	during, _, err := g.read()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Munmap(b); err != nil {
		t.Fatal(err)
	}
	g.close()
	after, _, err := g.read()
	if err != nil {
		t.Fatal(err)
	}
	if during-before < size*3/4 || during-after < size*3/4 || sum != 0 {
		t.Errorf("file-backed bytes %d before, %d with 8 MiB mapped, %d after: want the 8 MiB seen and gone", before, during, after)
	}
}
