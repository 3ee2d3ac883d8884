package daemon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"

	bolt "go.etcd.io/bbolt"
)

const documentRoute = "GET /v1/extractions/:id/documents/:doc_id"

// storedResults counts the documents of a stopped daemon's state, and those
// that still hold the API's result.
func storedResults(tb testing.TB, cfg *config.Config) (docs, withResult int) {
	tb.Helper()
	st, err := state.OpenReadOnly(cfg.State.Path, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if err := st.View(func(tx *state.Tx) error {
		return tx.Docs(func(d state.Doc) error {
			docs++
			if len(d.Result) > 0 {
				withResult++
			}
			return nil
		})
	}); err != nil {
		tb.Fatal(err)
	}
	return docs, withResult
}

// After a run the state holds no result: they are in the result files. A
// copy dropped later gets its result from the first file's result file, or,
// once those are deleted, from the API again; neither is charged.
func TestStoredResultsDroppedDuplicateStillFree(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	content := pdf(t, 41, 2)
	a, copyOfA := filepath.Join(e.inbox, "a.pdf"), filepath.Join(e.inbox, "a copy.pdf")
	write(t, a, content)
	write(t, copyOfA, content)
	write(t, filepath.Join(e.inbox, "b.pdf"), pdf(t, 42, 1))
	if sum, err := e.once(cfg); err != nil || sum.Done != 3 || !sum.OK() {
		t.Fatalf("first run: %+v, %v", sum, err)
	}
	if docs, kept := storedResults(t, cfg); docs != 2 || kept != 0 {
		t.Fatalf("%d of %d documents still hold their result after the run", kept, docs)
	}
	want := invoiceNumber(t, readResult(t, a))
	charged := e.emu.Stats()

	later := filepath.Join(e.inbox, "later.pdf")
	write(t, later, content)
	if sum, err := e.once(cfg); err != nil || !sum.OK() {
		t.Fatalf("second run: %+v, %v", sum, err)
	}
	if got := invoiceNumber(t, readResult(t, later)); got != want {
		t.Errorf("later copy: invoice %q, want %q", got, want)
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != charged.DocumentsCreated || st.PagesCharged != charged.PagesCharged || st.Requests[documentRoute] != charged.Requests[documentRoute] {
		t.Errorf("later copy asked the API or was charged: %+v, before %+v", st, charged)
	}

	// Every result file of that content deleted: the API is asked again.
	for _, p := range []string{a, copyOfA, later} {
		if err := os.Remove(results.ResultPath(p)); err != nil {
			t.Fatal(err)
		}
	}
	third := filepath.Join(e.inbox, "third.pdf")
	write(t, third, content)
	if sum, err := e.once(cfg); err != nil || !sum.OK() {
		t.Fatalf("third run: %+v, %v", sum, err)
	}
	if got := invoiceNumber(t, readResult(t, third)); got != want {
		t.Errorf("third copy: invoice %q, want %q", got, want)
	}
	after := e.emu.Stats()
	if after.DocumentsCreated != charged.DocumentsCreated || after.PagesCharged != charged.PagesCharged {
		t.Errorf("charged again: documents %d→%d, pages %d→%d", charged.DocumentsCreated, after.DocumentsCreated, charged.PagesCharged, after.PagesCharged)
	}
	if n := after.Requests[documentRoute] - st.Requests[documentRoute]; n != 1 {
		t.Errorf("%d document requests for the third copy, want 1", n)
	}
	if docs, kept := storedResults(t, cfg); docs != 2 || kept != 0 {
		t.Errorf("%d of %d documents hold their result after the later runs", kept, docs)
	}
}

// The state of a run holds no document's result: the results are in the
// result files only. It runs n distinct documents through the pipeline
// (300; PPSYNC_STATE_DOCS=2000 for the figures in docs/results-retention.md)
// and logs the state file's size as left by the run and compacted, next to
// the size of the documents (compact JSON) in the result files.
func TestStateSizeWithoutStoredResults(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: runs hundreds of files")
	}
	n := 300
	if v := os.Getenv("PPSYNC_STATE_DOCS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			t.Fatalf("PPSYNC_STATE_DOCS=%q: want a number of documents", v)
		}
	}
	e := newEnv(t, emulator.Options{Workers: 64, Credits: 5 * n})
	cfg := e.config(`recursive = true`)
	cfg.Upload.BatchWindow = config.D(2 * time.Second) // hashing 50 files takes longer than the tests' 100 ms
	base := pdf(t, 1, 1)
	var files []string
	for i := range n {
		// Distinct content: a trailing comment after %%EOF changes the hash only.
		p := filepath.Join(e.inbox, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("doc-%05d.pdf", i))
		write(t, p, append(append([]byte{}, base...), fmt.Sprintf("%% %d\n", i)...))
		files = append(files, p)
	}
	sum, err := e.once(cfg)
	if err != nil || sum.Done != n || !sum.OK() {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	var docBytes int64
	for _, p := range files {
		var c bytes.Buffer
		if err := json.Compact(&c, readResult(t, p).Document); err != nil {
			t.Fatal(err)
		}
		docBytes += int64(c.Len())
	}
	fi, err := os.Stat(cfg.State.Path)
	if err != nil {
		t.Fatal(err)
	}
	runUsed, _ := boltUse(t, cfg.State.Path)
	if _, err := state.Compact(cfg.State.Path, time.Second); err != nil {
		t.Fatal(err)
	}
	used, docsUsed := boltUse(t, cfg.State.Path)
	docs, kept := storedResults(t, cfg)
	t.Logf("%d documents: state file %d bytes after the run (%d up to its high-water mark); compacted, %d bytes in use (%d a document), "+
		"the document records %d bytes (%d a document); the documents in the result files: %d bytes a document",
		n, fi.Size(), runUsed, used, used/int64(n), docsUsed, docsUsed/int64(n), docBytes/int64(n))
	if docs != n || kept != 0 {
		t.Errorf("%d of %d documents hold their result", kept, docs)
	}
}

// boltUse reads a closed state file's size in use (its pages up to the
// high-water mark) and the bytes the document records' pages use.
func boltUse(t *testing.T, path string) (used, docs int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		used = tx.Size()
		b := tx.Bucket([]byte("docs"))
		if b == nil {
			return errors.New("no docs bucket")
		}
		st := b.Stats()
		docs = int64(st.LeafInuse + st.BranchInuse)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return used, docs
}
