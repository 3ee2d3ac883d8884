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

// A transaction hands the pages it mapped back as it ends, a write once it
// has committed: between two transactions, next to nothing of the file
// stays mapped, whatever they read.
func TestTransactionsReleaseAsTheyEnd(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 1500)
	// readAll reads every record through bbolt's own cursor (no release
	// within the transaction, each record counted as the Tx's own reads
	// count theirs) and says how much of the file is mapped then.
	readAll := func(tx *Tx) (int, error) {
		err := tx.tx.Bucket(bucketFiles).ForEach(func(_, _ []byte) error { tx.ops++; return nil })
		return mappedRSS(t, path), err
	}
	for b := range 4 {
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
		if after := mappedRSS(t, path); b > 0 && (during < 2000 || after > 256) {
			t.Errorf("write %d: %d KiB of the state file mapped during it, %d KiB still mapped after it ended", b, during, after)
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
	if after := mappedRSS(t, path); read < 4000 || after > read/10 {
		t.Errorf("%d KiB of the state file mapped during a read of every record, %d KiB after the read ended", read, after)
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
	if after := mappedRSS(t, path); during < 4000 || after > during/10 {
		t.Errorf("after compaction in place: %d KiB of the state file mapped during a write that read every record, %d KiB after", during, after)
	}
}

// A walk over many open files hands the mapped pages back as it goes: what
// stays mapped at the end is at most what one stretch of releaseEvery
// entries read, not the whole index.
func TestEachOpenFileReleasesAsItGoes(t *testing.T) {
	s, path := openTemp(t)
	const n = 40 * releaseEvery
	inbox := "/in/" + strings.Repeat("i", 200) // long values: a large index
	for b := 0; b < n; b += 2000 {
		if err := s.Update(func(tx *Tx) error {
			for i := b; i < min(b+2000, n); i++ {
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
			if walked++; walked%1000 == 0 {
				peak = max(peak, mappedRSS(t, path))
			}
			if f.DocState != DocQueued {
				return fmt.Errorf("%s: document state %q, want queued", f.Path, f.DocState)
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
	if peak*2 > whole {
		t.Errorf("up to %d KiB of the state resident during the walk, %d KiB for the index read whole: the walk did not release as it went", peak, whole)
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
	sampled := make(chan int)
	go func() {
		peak := 0
		for {
			kb, _ := mappedRSSOf(uint64(old.Dev), old.Ino)
			peak = max(peak, kb)
			select {
			case <-done:
				sampled <- peak
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	_, err = s.CompactInPlace()
	close(done)
	peak := <-sampled
	if err != nil {
		t.Fatal(err)
	}
	if peak > live/3 {
		t.Errorf("up to %d KiB of the old file resident while compacting %d KiB of records: the copy left the file mapped", peak, live)
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

// A walk of every file record (the status page's list, 'state check')
// hands the mapped pages back as it goes: it never has the whole bucket
// resident at once.
func TestFilesWalkReleasesAsItGoes(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 1500)
	for b := range 8 {
		if err := s.Update(func(tx *Tx) error { return putFiles(tx, b, reason) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
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
	if walked != 8000 {
		t.Fatalf("walked %d files, want 8000", walked)
	}
	if peak*4 > whole {
		t.Errorf("up to %d KiB of the state resident during the walk, %d KiB for the bucket read whole: the walk did not release as it went", peak, whole)
	}
}

// Small transactions hand the mapped pages back in batches: one release
// per releaseBatch records touched, not one per transaction, and what
// stays mapped between two releases is bounded by what a batch touches.
func TestSmallTransactionsReleaseInBatches(t *testing.T) {
	s, path := openTemp(t)
	reason := strings.Repeat("r", 1500)
	for b := range 4 {
		if err := s.Update(func(tx *Tx) error { return putFiles(tx, b, reason) }); err != nil {
			t.Fatal(err)
		}
	}
	const txs = 1000
	before := s.Releases()
	most := 0
	for i := range txs {
		// One record read (scattered over the file) and one written: two
		// records a transaction, a document's intake in miniature.
		p := fmt.Sprintf("/in/%d/%04d.pdf", i%4, (i*397)%1000)
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
		if i%50 == 0 {
			most = max(most, mappedRSS(t, path))
		}
	}
	releases := s.Releases() - before
	if want := uint64(2*txs/releaseBatch + 1); releases > want {
		t.Errorf("%d releases for %d small transactions of two records, want at most %d (one per %d records)", releases, txs, want, releaseBatch)
	}
	if releases == 0 {
		t.Error("no release at all")
	}
	// A batch of 64 records touches at most some 64 leaves and their
	// branches, and the 64 KiB around each.
	if most > 8<<10 {
		t.Errorf("%d KiB of the state file mapped between two releases, want at most 8 MiB", most)
	}
}

// The maintainer's timed release hands back only what transactions left
// mapped: none after a transaction that released as it ended, or when
// nothing ran; one after a small read.
func TestTimedReleaseOnlyAfterUnreleasedWork(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Update(func(tx *Tx) error { return putFiles(tx, 0, "r") }); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		run  func() error
		want bool
	}{
		{"after a transaction of a batch of records (released as it ended)", func() error {
			return s.Update(func(tx *Tx) error {
				for i := range releaseBatch {
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
		}, false},
		{"when nothing ran", func() error { return nil }, false},
		{"after a read of one record", func() error {
			return s.View(func(tx *Tx) error { _, _, err := tx.File("/in/0/0001.pdf"); return err })
		}, true},
		{"right after that release", func() error { return nil }, false},
		{"after a transaction that read no record", func() error {
			return s.View(func(tx *Tx) error { return tx.Batches(func(Batch) error { return nil }) })
		}, true},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatal(err)
		}
		before := s.Releases()
		released, err := s.ReleaseTouched()
		if err != nil {
			t.Fatal(err)
		}
		if released != st.want || (s.Releases()-before == 1) != st.want {
			t.Errorf("%s: released %v (%d releases), want %v", st.name, released, s.Releases()-before, st.want)
		}
	}
}
