package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// BenchmarkFileLookup reads one file record among 10,000, as the uploader
// does for every reported file.
func BenchmarkFileLookup(b *testing.B) {
	s, err := state.Open(filepath.Join(b.TempDir(), "s.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	if err := s.Update(func(tx *state.Tx) error {
		for i := range n {
			if err := tx.SeedFile(state.File{Path: fmt.Sprintf("/inbox/f%05d.pdf", i), State: state.FileDone, SHA256: "x", Size: int64(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		_ = s.View(func(tx *state.Tx) error {
			_, ok, err := tx.File(fmt.Sprintf("/inbox/f%05d.pdf", i))
			if err != nil || !ok {
				b.Fatal("missing record")
			}
			return nil
		})
	}
}

// BenchmarkFileLookupLargeState reads one file record among 100,000 (a
// state of some 40 MiB, ten times the mapped budget) in a transaction of
// its own, scattered over the file as lookups by content hash are: each
// read maps the pages around it, and the releases (reported a lookup) make
// the next reads fault their pages in again.
func BenchmarkFileLookupLargeState(b *testing.B) {
	s, err := state.Open(filepath.Join(b.TempDir(), "s.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100000
	reason := strings.Repeat("r", 200)
	for c := 0; c < n; c += 10000 {
		if err := s.Update(func(tx *state.Tx) error {
			for i := c; i < c+10000; i++ {
				if err := tx.SeedFile(state.File{Path: fmt.Sprintf("/inbox/f%06d.pdf", i), State: state.FileDone, SHA256: "x", Size: int64(i), Reason: reason}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.ReleaseMapped(); err != nil {
		b.Fatal(err)
	}
	releases := s.Releases()
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		_ = s.View(func(tx *state.Tx) error {
			_, ok, err := tx.File(fmt.Sprintf("/inbox/f%06d.pdf", i))
			if err != nil || !ok {
				b.Fatal("missing record")
			}
			return nil
		})
	}
	b.ReportMetric(float64(s.Releases()-releases)/float64(b.N), "releases/op")
}

// BenchmarkCompactInPlace measures CompactInPlace of a state of about 100
// MiB that is nearly all live records, and of one of about 500 MiB of
// which nine records in ten were removed, while a writer keeps writing: the
// wall time of the compaction and the longest the writer waited for one
// write. Each case builds its state first (tens of seconds); run it with
// -benchtime 1x.
func BenchmarkCompactInPlace(b *testing.B) {
	for _, c := range []struct {
		name    string
		records int
		keep    int // one record in keep stays
	}{
		{"100MiB-live", 24000, 1},
		{"500MiB-90pct-free", 125000, 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				path := filepath.Join(dir, "state.db")
				benchState(b, path, c.records, c.keep)
				s, err := state.Open(path, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				sp, err := s.Space()
				if err != nil {
					b.Fatal(err)
				}
				heapBefore := liveHeap()
				stop := make(chan struct{})
				waits := make(chan time.Duration, 1)
				go func() {
					var longest time.Duration
					for i := 0; ; i++ {
						select {
						case <-stop:
							waits <- longest
							return
						default:
						}
						t0 := time.Now()
						if err := s.Update(func(tx *state.Tx) error {
							return tx.PutMeta("bench", fmt.Sprint(i))
						}); err != nil {
							b.Error(err)
						}
						longest = max(longest, time.Since(t0))
					}
				}()
				b.StartTimer()
				t0 := time.Now()
				cs, err := s.CompactInPlace()
				wall := time.Since(t0)
				b.StopTimer()
				close(stop)
				longest := <-waits
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(cs.Before)/(1<<20), "MiB-before")
				b.ReportMetric(float64(sp.FreeBytes)/(1<<20), "MiB-free")
				b.ReportMetric(float64(cs.After)/(1<<20), "MiB-after")
				b.ReportMetric(wall.Seconds(), "s-wall")
				b.ReportMetric(longest.Seconds(), "s-longest-write")
				b.ReportMetric(float64(heapBefore)/(1<<20), "MiB-heap-before")
				b.ReportMetric(float64(liveHeap())/(1<<20), "MiB-heap-after")
				s.Close()
				b.StartTimer()
			}
		})
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// benchState writes n done file records, each with a document holding a
// result of 2,400 bytes (one document to a page), compacts the file, then
// removes all but one record in keep, in transactions of a thousand
// records as a prune does.
func benchState(b *testing.B, path string, n, keep int) {
	b.Helper()
	s, err := state.Open(path, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	result := []byte(`"` + strings.Repeat("x", 2400) + `"`)
	p := func(i int) string { return fmt.Sprintf("/inbox/f%07d.pdf", i) }
	sha := func(i int) string { return fmt.Sprintf("%064d", i) }
	for start := 0; start < n; start += 1000 {
		if err := s.Update(func(tx *state.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				if err := tx.SeedFile(state.File{Path: p(i), Inbox: "/inbox", SHA256: sha(i), State: state.FileDone}); err != nil {
					return err
				}
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha(i)), SHA256: sha(i), State: state.DocDone, Files: []string{p(i)}, Result: result}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if _, err := state.Compact(path, time.Second); err != nil {
		b.Fatal(err)
	}
	if keep <= 1 {
		return
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for start := 0; start < n; start += 1000 {
		if err := db.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				if i%keep == 0 {
					continue
				}
				if err := tx.Bucket([]byte("files")).Delete([]byte(p(i))); err != nil {
					return err
				}
				if err := tx.Bucket([]byte("docs")).Delete([]byte(state.DocKey("prs", sha(i)))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPruneCompacting prunes a state of about 500 MiB whose records
// are all of files long gone, as a first prune after a long time does: the
// wall time, the compactions it made, the most free pages the file held
// (sampled every 20 ms) and the size it ends with. Run it with
// -benchtime 1x.
func BenchmarkPruneCompacting(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "state.db")
		benchState(b, path, 125000, 1)
		s, err := state.Open(path, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		peak := make(chan int64, 1)
		go func() {
			var most int64
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					peak <- most
					return
				case <-tick.C:
				}
				if sp, err := s.Space(); err == nil {
					most = max(most, sp.FreeBytes)
				}
			}
		}()
		before := fileSizeOfB(b, path)
		b.StartTimer()
		t0 := time.Now()
		ps, err := s.Prune(context.Background(), time.Now().Add(400*24*time.Hour), state.DefaultRetention, func(p string) bool { return p == "/inbox" })
		wall := time.Since(t0)
		b.StopTimer()
		close(stop)
		most := <-peak
		if err != nil || ps.CompactErr != nil {
			b.Fatal(err, ps.CompactErr)
		}
		b.ReportMetric(float64(before)/(1<<20), "MiB-before")
		b.ReportMetric(float64(fileSizeOfB(b, path))/(1<<20), "MiB-after")
		b.ReportMetric(float64(most)/(1<<20), "MiB-most-free")
		b.ReportMetric(float64(ps.Compactions), "compactions")
		b.ReportMetric(wall.Seconds(), "s-wall")
		s.Close()
		b.StartTimer()
	}
}

func fileSizeOfB(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
