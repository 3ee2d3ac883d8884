package uploader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// TestParallelIntakeKeepsOrderAndDedupe sends a backlog of files, each
// content twice under two names, through Run's parallel intake: each
// content makes one document, and the file whose event came first is its
// original, the other its duplicate.
func TestParallelIntakeKeepsOrderAndDedupe(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const contents = 24
	var evs []watcher.Event
	first := map[string]bool{}
	for i := range contents {
		b, err := samples.Generate(3, i+1, 1+i%3).PDF()
		if err != nil {
			t.Fatal(err)
		}
		a, c := filepath.Join(dir, fmt.Sprintf("a%02d.pdf", i)), filepath.Join(dir, fmt.Sprintf("copy%02d.pdf", i))
		if i%2 == 1 { // the copy comes first for odd contents
			a, c = c, a
		}
		for _, p := range []string{a, c} {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, watcher.Event{Kind: watcher.Ready, Path: p, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		first[a] = true
	}
	// Interleave so a content's two events are far apart in the queue.
	order := make([]watcher.Event, 0, len(evs))
	for i := 0; i < len(evs); i += 2 {
		order = append(order, evs[i])
	}
	for i := 1; i < len(evs); i += 2 {
		order = append(order, evs[i])
	}

	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1000}
	u := New(Options{Store: st, API: fa, Finisher: &fakeFinisher{failed: map[string]string{}}, Tracker: &lockedTracker{},
		Inboxes: []Inbox{{Path: dir, ParserID: "prs"}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20, BatchWindow: 10 * time.Millisecond,
		CreditRecheck: 5 * time.Millisecond, Once: true})
	events := make(chan watcher.Event, len(order))
	for _, ev := range order {
		events <- ev
	}
	close(events)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, events); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if idle, _ := u.Idle(); idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("intake and sending did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	docs := 0
	err = st.View(func(tx *state.Tx) error {
		if err := tx.Docs(func(d state.Doc) error {
			docs++
			n := 0
			_ = tx.DocFiles(d.Key, func(string) error { n++; return nil })
			if n != 2 || !first[d.First] {
				t.Errorf("document %s: %d files, first %q, want the file whose event came first, then its copy", d.Key, n, d.First)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Files(func(f state.File) error {
			want := state.FileDuplicate
			if first[f.Path] {
				want = state.FileQueued
			}
			if f.State != want {
				t.Errorf("%s: state %s, want %s", filepath.Base(f.Path), f.State, want)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if docs != contents {
		t.Errorf("%d documents for %d contents", docs, contents)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if len(fa.keys) == 0 {
		t.Error("nothing was submitted")
	}
}

// lockedTracker counts tracked documents; batches are sent concurrently.
type lockedTracker struct {
	mu   sync.Mutex
	docs int
}

func (l *lockedTracker) Track(_ string, docKeys map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.docs += len(docKeys)
}
