package uploader

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// TestCopyCostDoesNotGrowWithCopies sends copies (hard links) of one
// content through intake, first while its document waits to be sent, then
// after it finished, and measures what each copy costs the state: records
// read and written (index entries walked included) and bytes of records
// written. A copy near the end must cost what a copy near the start did:
// a list of the document's files rewritten or walked per copy makes the
// later copies cost many times more.
func TestCopyCostDoesNotGrowWithCopies(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 400
	}
	const window = 20 // copies averaged at each end
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}}})
	u := New(Options{Store: st, API: &fakeAPI{rename: func(s string) string { return s }, credits: 1000}, Finisher: fin,
		Tracker: &lockedTracker{}, Inboxes: []Inbox{{Path: inbox, ParserID: "prs"}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20})
	pdf, err := samples.Generate(7, 1, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	orig := filepath.Join(dir, "original.pdf")
	if err := os.WriteFile(orig, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// copyOf links the i-th copy into the inbox, hands it to intake and
	// returns what it cost.
	copyOf := func(i int) state.Cost {
		p := filepath.Join(inbox, fmt.Sprintf("copy-%05d.pdf", i))
		if err := os.Link(orig, p); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		ev := watcher.Event{Kind: watcher.Ready, Path: p, Size: fi.Size(), ModTime: fi.ModTime()}
		pre := u.inspect(ev, nil)
		before := st.Cost()
		u.handle(ctx, ev, pre)
		after := st.Cost()
		return state.Cost{Records: after.Records - before.Records, Bytes: after.Bytes - before.Bytes}
	}
	// phase sends copies from..from+n-1 and returns the mean cost of the
	// first window copies after the 100th and of the last window.
	phase := func(from int) (early, late state.Cost) {
		for i := range n {
			c := copyOf(from + i)
			switch {
			case i >= 100 && i < 100+window:
				early.Records += c.Records
				early.Bytes += c.Bytes
			case i >= n-window:
				late.Records += c.Records
				late.Bytes += c.Bytes
			}
		}
		return state.Cost{Records: early.Records / window, Bytes: early.Bytes / window},
			state.Cost{Records: late.Records / window, Bytes: late.Bytes / window}
	}
	grows := func(what string, early, late state.Cost) {
		t.Helper()
		t.Logf("%s: copy ~%d: %d records, %d record bytes; copy ~%d: %d records, %d record bytes",
			what, 100+window/2, early.Records, early.Bytes, n-window/2, late.Records, late.Bytes)
		if late.Records > early.Records+1 {
			t.Errorf("%s: a copy near the %dth touches %d records, one near the 100th %d: the cost grows with the copies", what, n, late.Records, early.Records)
		}
		if float64(late.Bytes) > 1.2*float64(early.Bytes)+256 {
			t.Errorf("%s: a copy near the %dth writes %d bytes of records, one near the 100th %d: the cost grows with the copies", what, n, late.Bytes, early.Bytes)
		}
	}

	early, late := phase(0)
	grows("copies while the document waits", early, late)

	key := ""
	if err := st.View(func(tx *state.Tx) error {
		return tx.Docs(func(d state.Doc) error { key = d.Key; return nil })
	}); err != nil || key == "" {
		t.Fatalf("no document after %d copies (%v)", n, err)
	}
	var doc apitypes.Document
	if err := json.Unmarshal([]byte(`{"document_id":"doc_1","filename":"copy-00000.pdf","status":"completed","page_count":1}`), &doc); err != nil {
		t.Fatal(err)
	}
	if err := fin.Done(ctx, key, doc); err != nil {
		t.Fatal(err)
	}

	early, late = phase(n)
	grows("copies after the document finished", early, late)

	// Every copy has its result, and the content was one document.
	for _, i := range []int{0, n - 1, n, 2*n - 1} {
		res := filepath.Join(inbox, fmt.Sprintf("copy-%05d.pdf.json", i))
		if _, err := os.Stat(res); err != nil {
			t.Errorf("copy %d has no result: %v", i, err)
		}
	}
	docs := 0
	_ = st.View(func(tx *state.Tx) error { return tx.Docs(func(state.Doc) error { docs++; return nil }) })
	if docs != 1 {
		t.Errorf("%d documents for one content, want 1", docs)
	}
}
