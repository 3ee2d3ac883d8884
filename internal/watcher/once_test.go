package watcher

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// A file whose stat fails once (a share under load answering EIO) is
// listed again before a run that reports each file once ends, and
// reported: it is not left without a result by a run that saw nothing
// wrong.
func TestOnceRunRetriesAnEntryItCouldNotRead(t *testing.T) {
	dir := t.TempDir()
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{"a.pdf", "b.pdf", "c.pdf"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	in := Inbox{Path: dir, ParserID: "p", Include: []string{"*.pdf"}, Settle: 20 * time.Millisecond, IncompleteAfter: time.Second,
		RescanInterval: time.Minute, Watch: WatchAuto}
	w := New(Options{Inbox: in, Once: true})
	failed := false
	inner := w.lstat
	w.lstat = func(p string) (stamp, fileKind, error) {
		if filepath.Base(p) == "b.pdf" && !failed {
			failed = true
			return stamp{}, kindOther, &fs.PathError{Op: "lstat", Path: p, Err: syscall.EIO}
		}
		return inner(p)
	}
	out := make(chan Event, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Run(ctx, out); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(out) > 0 {
		got[filepath.Base((<-out).Path)] = true
	}
	if !failed || len(got) != 3 || !got["b.pdf"] {
		t.Errorf("reported %v (stat failed once: %v); want all three, b.pdf after its stat failed", got, failed)
	}
	if u := w.Status().Unreadable; len(u) != 0 {
		t.Errorf("still unreadable after the retry: %v", u)
	}
}

// An entry denied by its permissions is not listed again (a second look
// meets the same answer): the run ends and reports it.
func TestOnceRunDoesNotRetryADeniedEntry(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.pdf")
	if err := os.WriteFile(p, []byte("%PDF-1.4\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := Inbox{Path: dir, ParserID: "p", Include: []string{"*.pdf"}, Settle: 20 * time.Millisecond, IncompleteAfter: time.Second,
		RescanInterval: time.Minute, Watch: WatchAuto}
	w := New(Options{Inbox: in, Once: true})
	stats := 0
	w.lstat = func(p string) (stamp, fileKind, error) {
		stats++
		return stamp{}, kindOther, &fs.PathError{Op: "lstat", Path: p, Err: syscall.EACCES}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Run(ctx, make(chan Event, 1)); err != nil {
		t.Fatal(err)
	}
	u := w.Status().Unreadable
	if stats != 1 || len(u) != 1 || !strings.Contains(u[0], "grant the ppsync user access") {
		t.Errorf("stat %d times, unreadable %v; want one look and the entry reported with what to do", stats, u)
	}
}
