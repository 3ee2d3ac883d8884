package watcher_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/watcher"
)

// BenchmarkRescan10kUnchanged times a full rescan of an inbox holding
// 10,000 files that were all reported before: a stat per file, no read.
func BenchmarkRescan10kUnchanged(b *testing.B) {
	in := tenThousandFiles(b, watcher.WatchPoll)
	w := watcher.New(watcher.Options{Inbox: in})
	if err := w.ScanSettled(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n, err := w.Rescan()
		if err != nil || n != 0 {
			b.Fatalf("rescan: %d candidates, %v", n, err)
		}
	}
}

// BenchmarkLightListing10kUnchanged times a listing of the same inbox as
// a network inbox polled in watch = "auto" does it between sweeps: the
// names only, no stat of the files reported.
func BenchmarkLightListing10kUnchanged(b *testing.B) {
	in := tenThousandFiles(b, watcher.WatchAuto)
	w := watcher.NewOnShare(watcher.Options{Inbox: in}, "cifs")
	w.PolledAsShare()
	if err := w.ScanSettled(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n, err := w.Rescan()
		if err != nil || n != 0 {
			b.Fatalf("rescan: %d candidates, %v", n, err)
		}
	}
	if st := w.Status(); st.LastStats != 20 || st.Sweeps != 1 {
		b.Fatalf("the listings stat'ed %d entries (%d sweeps), want the 20 folders only and 1 sweep", st.LastStats, st.Sweeps)
	}
}

// tenThousandFiles is an inbox of 10,000 small PDFs in 20 folders,
// watched in mode watch.
func tenThousandFiles(b *testing.B, watch string) watcher.Inbox {
	b.Helper()
	dir := b.TempDir()
	for i := range 10000 {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i/500))
		if i%500 == 0 {
			if err := os.Mkdir(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d.pdf", i)), []byte("%PDF-1.4\n%%EOF\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return watcher.Inbox{Path: dir, Recursive: true, Include: []string{"*.pdf"}, Exclude: config.DefaultExclude(),
		Settle: time.Second, IncompleteAfter: time.Minute, RescanInterval: time.Hour, Watch: watch}
}
