package poller_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// fakeAPI finished every document already.
type fakeAPI struct{ docReads, resultReads atomic.Int32 }

func (f *fakeAPI) ListExtractions(context.Context, api.ListOptions, string) (apitypes.ExtractionList, error) {
	return apitypes.ExtractionList{}, nil
}
func (f *fakeAPI) Extraction(context.Context, string) (apitypes.Extraction, error) {
	return apitypes.Extraction{Status: "processing"}, nil
}
func (f *fakeAPI) Results(_ context.Context, id string) (apitypes.Extraction, error) {
	f.resultReads.Add(1)
	var x apitypes.Extraction
	_ = json.Unmarshal([]byte(`{"extraction_id":"`+id+`","status":"completed","documents":[
		{"document_id":"d1","filename":"d1.pdf","status":"completed","extracted_data":{"n":1}},
		{"document_id":"d2","filename":"d2.pdf","status":"completed","extracted_data":{"n":2}}]}`), &x)
	return x, nil
}
func (f *fakeAPI) Document(_ context.Context, _, doc string) (apitypes.Document, error) {
	f.docReads.Add(1)
	var d apitypes.Document
	_ = json.Unmarshal([]byte(`{"document_id":"`+doc+`","filename":"`+doc+`.pdf","status":"completed","extracted_data":{"n":0}}`), &d)
	return d, nil
}

// Deliveries can beat the submission answer, arrive twice or out of order:
// a nudge for a job not tracked yet waits for it, and repeated nudges for
// one job become one results read.
func TestNudgesOutOfOrderAndCoalesced(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var keys = map[string]string{}
	for i, id := range []string{"d1", "d2"} {
		p := filepath.Join(dir, id+".pdf")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		sha := string(rune('a' + i))
		k := state.DocKey("prs", sha)
		keys[id] = k
		_ = st.Update(func(tx *state.Tx) error {
			_ = tx.SeedFile(state.File{Path: p, Inbox: dir, ParserID: "prs", SHA256: sha, State: state.FileQueued})
			return tx.SeedDoc(state.Doc{Key: k, ParserID: "prs", SHA256: sha, State: state.DocSubmitted, Files: []string{p},
				ExtractionID: "ext_1", DocumentID: id})
		})
	}
	fa := &fakeAPI{}
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: dir}}})
	p := poller.New(poller.Options{Store: st, API: fa, Finisher: fin, Interval: time.Hour, NudgeBudget: 100, NudgeWindow: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.RunNudges(ctx, 20*time.Millisecond)
	// Job event first, then a document event, then the same again: all
	// before the job is tracked.
	p.Nudge("ext_1", "", true)
	p.Nudge("ext_1", "d2", false)
	p.Nudge("ext_1", "d2", false)
	time.Sleep(100 * time.Millisecond)
	if fa.resultReads.Load()+fa.docReads.Load() != 0 {
		t.Fatal("read an untracked job")
	}
	p.Track("ext_1", keys)
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for {
		_, e1 := os.Stat(results.ResultPath(filepath.Join(dir, "d1.pdf")))
		_, e2 := os.Stat(results.ResultPath(filepath.Join(dir, "d2.pdf")))
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("results not written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, d := fa.resultReads.Load(), fa.docReads.Load(); r != 1 || d != 0 {
		t.Errorf("results reads %d, document reads %d: want one coalesced results read", r, d)
	}
	for !p.Idle() {
		if time.Now().After(deadline) {
			t.Fatal("poller not idle after every document finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
