//go:build linux || darwin

package uploader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// keyRecorder passes requests to the emulator and records the
// Idempotency-Key of every submission once the emulator has answered it.
type keyRecorder struct {
	emu  *emulator.Emulator
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.emu.ServeHTTP(w, r)
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/extractions") {
		k.mu.Lock()
		k.keys = append(k.keys, r.Header.Get("Idempotency-Key"))
		k.mu.Unlock()
	}
}

func (k *keyRecorder) waitKeys(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(patience.Scale(20 * time.Second))
	for {
		k.mu.Lock()
		got := append([]string(nil), k.keys...)
		k.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d submissions reached the API, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReprocessOfASingleFileUsesANewKey: a file processed alone (a batch
// of one, so the batch's key is its document's key part alone) and then
// reprocessed is sent under another Idempotency-Key; under the old one the
// API would answer with the first job instead of starting a new one.
func TestReprocessOfASingleFileUsesANewKey(t *testing.T) {
	emu := emulator.New(emulator.Options{ProcessingTime: time.Millisecond, RateWindow: time.Second, TempDir: t.TempDir()})
	rec := &keyRecorder{emu: emu}
	srv := httptest.NewServer(rec)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: "pp_test_local", RateWindow: time.Second,
		MaxRetries: 1, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u := New(Options{Store: st, API: c, Finisher: &fakeFinisher{failed: map[string]string{}}, Tracker: &lockedTracker{},
		Inboxes: []Inbox{{Path: dir, ParserID: "prs_invoice"}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20,
		BatchWindow: 20 * time.Millisecond, CreditRecheck: 5 * time.Millisecond})
	events := make(chan watcher.Event, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	p := filepath.Join(dir, "invoice.pdf")
	writePDF(t, p, 1)
	events <- readyEvent(t, p)
	first := rec.waitKeys(t, 1)

	// The result is written (as the finisher records it), then the file
	// is asked to be processed again.
	waitDocState(t, st, p, state.DocSubmitted)
	if err := st.Update(func(tx *state.Tx) error {
		f, _, err := tx.File(p)
		if err != nil {
			return err
		}
		d, _, err := tx.Doc(state.DocKey(f.ParserID, f.SHA256))
		if err != nil {
			return err
		}
		d.State, f.State = state.DocDone, state.FileDone
		if err := tx.SeedDoc(d); err != nil {
			return err
		}
		return tx.SeedFile(f)
	}); err != nil {
		t.Fatal(err)
	}
	if marked, err := MarkReprocess(st, []string{p}); err != nil || len(marked) != 1 {
		t.Fatalf("MarkReprocess: %v, %v", marked, err)
	}
	events <- readyEvent(t, p)
	keys := rec.waitKeys(t, 2)
	if len(first) != 1 || len(keys) != 2 {
		t.Fatalf("submissions %v, want two", keys)
	}
	if keys[0] == "" || keys[1] == keys[0] {
		t.Errorf("the reprocess was sent under key %q, the first submission under %q: want a new key", keys[1], keys[0])
	}
	if s := emu.Stats(); s.IdempotentReplays != 0 || s.DocumentsCreated != 2 {
		t.Errorf("emulator: %d replays, %d documents created; want 0 and 2", s.IdempotentReplays, s.DocumentsCreated)
	}
}

// waitDocState waits until the document of the file at p is in state s.
func waitDocState(t *testing.T, st *state.Store, p string, s state.DocState) {
	t.Helper()
	deadline := time.Now().Add(patience.Scale(20 * time.Second))
	for {
		var got state.DocState
		if err := st.View(func(tx *state.Tx) error {
			f, ok, err := tx.File(p)
			if err != nil || !ok {
				return err
			}
			d, _, err := tx.Doc(state.DocKey(f.ParserID, f.SHA256))
			got = d.State
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got == s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: document %q, want %q", p, got, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
