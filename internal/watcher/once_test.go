package watcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A run that reports each file once lets its tables go when it is over:
// the rest of a backlog (the files being sent) does not carry them.
func TestOnceRunDropsItsTables(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
	old := time.Now().Add(-time.Hour)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%02d.pdf", i))
		if err := os.WriteFile(p, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	in := Inbox{Path: dir, ParserID: "p", Include: []string{"*.pdf"}, Settle: 20 * time.Millisecond, IncompleteAfter: time.Second,
		RescanInterval: 300 * time.Millisecond, Watch: WatchAuto}
	w := New(Options{Inbox: in, Once: true})
	out := make(chan Event, 2*n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Run(ctx, out); err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("%d events, want %d", len(out), n)
	}
	if c, e := w.cands.len(), w.emitted.len(); c != 0 || e != 0 || len(w.emitted.ents) != 0 || len(w.dirs.paths) != 0 {
		t.Errorf("after the run: %d settling, %d reported, %d entries, %d folders still held", c, e, len(w.emitted.ents), len(w.dirs.paths))
	}
	if s := w.Status(); s.Tracked != n || s.Settling != 0 {
		t.Errorf("status after the run: %d tracked, %d settling; want the last counts, %d and 0", s.Tracked, s.Settling, n)
	}
}
