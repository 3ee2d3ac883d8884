package watcher_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/watcher"
)

// Settling compares mtime as well as size: a complete file whose mtime
// keeps changing while its size stays the same (a tool rewriting it in
// place) is not reported until it has been still for settle.
func TestSettleWaitsForMtimeNotOnlySize(t *testing.T) {
	const settle = 2 * time.Second
	in := inbox(t, func(in *watcher.Inbox) { in.Settle = settle; in.IncompleteAfter = time.Minute })
	p := filepath.Join(in.Path, "touched.pdf")
	write(t, p, pdf(t))
	base := time.Now().Add(-time.Hour)
	r := start(t, in, false)
	// Touch it for three settle periods: a new mtime every 50 ms, the
	// same size throughout.
	var last time.Time
	for i := 0; time.Since(base.Add(time.Hour)) < 3*settle; i++ {
		if err := os.Chtimes(p, base, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		if ev, ok := r.next(50 * time.Millisecond); ok {
			t.Fatalf("reported %s while its mtime was still changing", ev.Kind)
		}
	}
	ev := r.expect(watcher.Ready, p)
	if still := time.Since(last); still < settle {
		t.Errorf("reported %v after the last change, want at least settle (%v)", still, settle)
	}
	if ev.Size != int64(len(pdf(t))) {
		t.Errorf("size %d", ev.Size)
	}
}
