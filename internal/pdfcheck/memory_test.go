package pdfcheck_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
)

// heapUse runs fn and returns the peak of the heap in use above what was
// in use before (sampled every 2 ms, and at the end), and the
// bytes fn allocated in all.
func heapUse(fn func()) (peak, total uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var mu sync.Mutex
	var top uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		top = max(top, m.HeapInuse)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	sample()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if top > before.HeapInuse {
		peak = top - before.HeapInuse
	}
	return peak, after.TotalAlloc - before.TotalAlloc
}

// TestInspectMemoryIndependentOfPages: a 200,000-page PDF (22 MB with a
// cross-reference table, 2 MB with object streams) is refused with
// TOO_MANY_PAGES, and read through when the limit allows it, with the heap
// of a 1-page file give or take a few MiB. (pdfcpu, which validated every
// file before, allocated 1.9 GB for the first and 550 MB for the second.)
func TestInspectMemoryIndependentOfPages(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: writes 25 MB of PDFs")
	}
	one := file(t, "one.pdf", pdftest.PDF(1, pdftest.Options{}))
	flat := file(t, "flat.pdf", pdftest.PDF(200_000, pdftest.Options{}))
	packed := file(t, "packed.pdf", pdftest.PDF(200_000, pdftest.Options{Fanout: 50, Compressed: true}))

	var err error
	var info pdfcheck.Info
	basePeak, baseTotal := heapUse(func() { info, err = pdfcheck.Inspect(one, pdfcheck.Options{MaxPages: 2000}) })
	if err != nil || info.Pages != 1 {
		t.Fatalf("1 page: %+v %v", info, err)
	}
	t.Logf("1 page: peak heap +%d KiB, allocated %d KiB", basePeak>>10, baseTotal>>10)
	const slack = 8 << 20
	for _, tc := range []struct {
		name     string
		path     string
		maxPages int
	}{
		{"flat, refused", flat, 2000},
		{"object streams, refused", packed, 2000},
		{"flat, allowed: the whole tree is walked", flat, 1_000_000},
		{"object streams, allowed: the whole tree is walked", packed, 1_000_000},
	} {
		start := time.Now()
		peak, total := heapUse(func() { info, err = pdfcheck.Inspect(tc.path, pdfcheck.Options{MaxPages: tc.maxPages}) })
		t.Logf("%s: %s", tc.name, time.Since(start))
		t.Logf("%s: peak heap +%d KiB, allocated %d KiB", tc.name, peak>>10, total>>10)
		var p *pdfcheck.Problem
		if tc.maxPages < 200_000 {
			if !errors.As(err, &p) || p.Code != pdfcheck.CodeTooManyPages || !strings.Contains(p.Message, "200000 pages") || !strings.Contains(p.Message, "allows 2000") {
				t.Errorf("%s: %+v %v, want %s naming 200000 pages and the limit", tc.name, info, err, pdfcheck.CodeTooManyPages)
			}
			// Refused from the root's /Count: almost nothing beyond the
			// hash's buffer is allocated at all.
			if total > baseTotal+slack {
				t.Errorf("%s: allocated %d KiB, over the 1-page file's %d KiB + %d KiB", tc.name, total>>10, baseTotal>>10, slack>>10)
			}
		} else if err != nil || info.Pages != 200_000 {
			t.Errorf("%s: %+v %v, want 200000 pages", tc.name, info, err)
		}
		if peak > basePeak+slack {
			t.Errorf("%s: peak heap +%d KiB, over the 1-page file's +%d KiB + %d KiB", tc.name, peak>>10, basePeak>>10, slack>>10)
		}
	}
}

// TestInspectReadsNoStreamWhole: a PDF that is mostly one stream, as scans
// are, is checked without its stream being read into memory (pdfcpu,
// which judged such files before, loads it whole): a file of up to 1 MiB
// costs its own bytes, read once, and little else; a larger one, read
// where it lies, the 1 MiB buffer of the hash and little else.
func TestInspectReadsNoStreamWhole(t *testing.T) {
	const slack = 512 << 10
	for _, tc := range []struct {
		name string
		size int
		base uint64 // what reading costs: the file's bytes or the hash's buffer
	}{
		{"900 KB, read into memory", 900_000, 900_000},
		{"2 MB, read where it lies", 2_000_000, 1 << 20},
	} {
		data := pdfcheck.OneBigStream(t, tc.size)
		p := file(t, "big.pdf", data)
		var err error
		var info pdfcheck.Info
		peak, total := heapUse(func() { info, err = pdfcheck.Inspect(p, pdfcheck.Options{MaxPages: 2000}) })
		t.Logf("%s (%d bytes): peak heap +%d KiB, allocated %d KiB", tc.name, len(data), peak>>10, total>>10)
		if err != nil || info.Pages != 1 {
			t.Fatalf("%s: %+v %v", tc.name, info, err)
		}
		if total > tc.base+slack {
			t.Errorf("%s: allocated %d KiB, over the %d KiB reading costs + %d KiB", tc.name, total>>10, tc.base>>10, slack>>10)
		}
	}
}

// TestInspectWithABufferAllocatesNoReadingRoom: a caller that gives its own
// buffer (a validation worker, one for all its files) costs no 1 MiB for
// reading each file, small or large, and a buffer reused from file to file
// (left full of another file's bytes) changes no hash and no verdict.
func TestInspectWithABufferAllocatesNoReadingRoom(t *testing.T) {
	const room = 256 << 10 // what Inspect may allocate besides reading
	files := map[string][]byte{
		"900 KB": pdfcheck.OneBigStream(t, 900_000),
		"2 MB":   pdfcheck.OneBigStream(t, 2_000_000),
		"small":  pdftest.PDF(3, pdftest.Options{}),
	}
	buf := make([]byte, pdfcheck.BufferSize)
	for i := range buf {
		buf[i] = 0xA5
	}
	for round := range 2 {
		for _, name := range []string{"2 MB", "small", "900 KB"} {
			data := files[name]
			p := file(t, strings.ReplaceAll(name, " ", "")+".pdf", data)
			want, werr := pdfcheck.Inspect(p, pdfcheck.Options{MaxPages: 2000})
			var got pdfcheck.Info
			var err error
			_, total := heapUse(func() { got, err = pdfcheck.Inspect(p, pdfcheck.Options{MaxPages: 2000, Buffer: buf}) })
			if err != nil || werr != nil || got != want {
				t.Fatalf("round %d, %s: with a buffer %+v %v; without %+v %v", round, name, got, err, want, werr)
			}
			if sum := sha256.Sum256(data); got.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("round %d, %s: hash %s, want the file's", round, name, got.SHA256)
			}
			if name != "small" && total > room {
				t.Errorf("round %d, %s: allocated %d KiB with the caller's buffer, want at most %d KiB", round, name, total>>10, room>>10)
			}
		}
	}
}
