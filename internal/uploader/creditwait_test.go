package uploader

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// A parser whose queued document needs more credits than the balance holds
// does not hold back another parser's (another inbox's) documents, and the
// held file's record says what it needs.
func TestCreditShortParserDoesNotBlockAnother(t *testing.T) {
	for round := range 10 { // the parsers are tried in the map's random order
		st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		big, small := "/a/big.pdf", "/b/small.pdf"
		if err := st.Update(func(tx *state.Tx) error {
			for i, d := range []struct {
				parser, path string
				pages        int
			}{{"prs_a", big, 60}, {"prs_b", small, 1}} {
				sha := fmt.Sprintf("%064x", i)
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey(d.parser, sha), ParserID: d.parser, SHA256: sha, Size: 10, Pages: d.pages,
					State: state.DocQueued, Files: []string{d.path}}); err != nil {
					return err
				}
				if err := tx.SeedFile(state.File{Path: d.path, Inbox: filepath.Dir(d.path), ParserID: d.parser, SHA256: sha, Pages: d.pages,
					State: state.FileQueued}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		fa := &fakeAPI{rename: func(s string) string { return s }, credits: 50}
		u, _, tr := uploaderOn(t, st, fa)
		if _, err := u.Preflight(context.Background()); err != nil {
			t.Fatal(err)
		}
		b, ok := u.form()
		if !ok || b.ParserID != "prs_b" {
			t.Fatalf("round %d: formed %v %+v: the parser with a file that fits did not go", round, ok, b)
		}
		u.send(context.Background(), b)
		settle(t, u)
		if _, ok := u.form(); ok {
			t.Fatal("a 60-page file was batched with 49 credits")
		}
		if len(tr.docs) != 1 {
			t.Fatalf("tracked %v", tr.docs)
		}
		waits := u.CreditWaits()
		want := []CreditWait{{Path: big, Inbox: "/a", Needs: 60, Available: 49}}
		if !reflect.DeepEqual(waits, want) {
			t.Errorf("credit waits %+v, want %+v", waits, want)
		}
		var rec state.File
		_ = st.View(func(tx *state.Tx) error { rec, _, _ = tx.File(big); return nil })
		if rec.Code != CodeWaitingCredits || !strings.Contains(rec.Reason, "needs 60 credits, 49 available") {
			t.Errorf("record of the held file: %s %q", rec.Code, rec.Reason)
		}
		// A top-up lets it go; its record no longer says it waits.
		u.mu.Lock()
		u.credits.observe(100, time.Now())
		u.mu.Unlock()
		b, ok = u.form()
		if !ok || b.ParserID != "prs_a" {
			t.Fatalf("after a top-up: formed %v %+v", ok, b)
		}
		_ = st.View(func(tx *state.Tx) error { rec, _, _ = tx.File(big); return nil })
		if rec.Code != "" || rec.Reason != "" || len(u.CreditWaits()) != 0 {
			t.Errorf("after a top-up: record %s %q, waits %v", rec.Code, rec.Reason, u.CreditWaits())
		}
		u.send(context.Background(), b)
		settle(t, u)
		st.Close()
	}
}

func TestFifoRemoveAt(t *testing.T) {
	for _, tt := range []struct {
		n    int
		idx  []int
		want []int64
	}{
		{5, nil, seq(0, 5)},
		{5, []int{0, 1}, seq(2, 5)},
		{5, []int{0, 2, 4}, []int64{1, 3}},
		{5, []int{1, 3}, []int64{0, 2, 4}},
		{3, []int{0, 1, 2}, []int64{}},
		{2 * blockLen, []int{0, blockLen + 1}, append(seq(1, blockLen+1), seq(blockLen+2, 2*blockLen)...)},
	} {
		f := queueOf(numbered(0, int64(tt.n)))
		f.removeAt(tt.idx)
		if got := ids(f.slice()); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("n=%d removeAt(%v): %d left, want %d", tt.n, tt.idx, len(got), len(tt.want))
		}
	}
}

// A file marked as waiting for credits by an earlier run loses its mark
// when, after a restart, its document goes.
func TestWaitMarkFromAnEarlierRunIsCleared(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sha := fmt.Sprintf("%064x", 7)
	if err := st.Update(func(tx *state.Tx) error {
		if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, Size: 10, Pages: 60,
			State: state.DocQueued, Files: []string{"/in/big.pdf"}}); err != nil {
			return err
		}
		return tx.SeedFile(state.File{Path: "/in/big.pdf", Inbox: "/in", ParserID: "prs", SHA256: sha, Pages: 60, State: state.FileQueued,
			Code: CodeWaitingCredits, Reason: waitReason(60, 50)})
	}); err != nil {
		t.Fatal(err)
	}
	u, _, _ := uploaderOn(t, st, &fakeAPI{rename: func(s string) string { return s }, credits: 100})
	if _, err := u.Preflight(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, ok := u.form()
	if !ok {
		t.Fatal("no batch with 100 credits")
	}
	var rec state.File
	_ = st.View(func(tx *state.Tx) error { rec, _, _ = tx.File("/in/big.pdf"); return nil })
	if rec.Code != "" || rec.Reason != "" {
		t.Errorf("the file still says %s: %s", rec.Code, rec.Reason)
	}
	u.send(context.Background(), b)
	settle(t, u)
}
