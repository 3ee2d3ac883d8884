package uploader

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

var errStopped = errors.New("stopped between two parts")

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/in/%03d.pdf", i)
	}
	return out
}

// stateOfDocs counts documents by state, and batch intents.
func stateOfDocs(t *testing.T, st *state.Store) (byState map[state.DocState]int, intents int) {
	t.Helper()
	byState = map[state.DocState]int{}
	if err := st.View(func(tx *state.Tx) error {
		if err := tx.Docs(func(d state.Doc) error { byState[d.State]++; return nil }); err != nil {
			return err
		}
		return tx.Batches(func(state.Batch) error { intents++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return byState, intents
}

// A full batch is recorded in transactions of docsPerWrite documents, both
// its intent and the API's answer.
func TestBatchIsRecordedInParts(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1 << 20}
	u, fin, tr, st := newTestUploader(t, fa, manyNames(50)...)
	var parts []string
	u.partWritten = func(what string) error { parts = append(parts, what); return nil }
	if n := sendAll(t, u); n != 1 {
		t.Fatalf("%d batches, want 1", n)
	}
	gaps := 50/docsPerWrite - 1
	want := append(slices.Repeat([]string{"intent"}, gaps), slices.Repeat([]string{"answer"}, gaps)...)
	if !slices.Equal(parts, want) {
		t.Errorf("pauses between parts %v, want %v", parts, want)
	}
	byState, intents := stateOfDocs(t, st)
	if byState[state.DocSubmitted] != 50 || intents != 0 || len(tr.docs) != 50 || len(fin.failed) != 0 {
		t.Errorf("documents %v, intents %d, tracked %d, failed %v", byState, intents, len(tr.docs), fin.failed)
	}
}

// A stop between two parts of an intent leaves documents marked for a
// batch whose intent was never written. They count as queued, in the same
// process and after a restart: each goes in one batch, sent once.
func TestIntentInterruptedBetweenParts(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprint("restart=", restart), func(t *testing.T) {
			fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1 << 20}
			u, _, tr, st := newTestUploader(t, fa, manyNames(50)...)
			u.partWritten = func(what string) error {
				if what == "intent" {
					return errStopped
				}
				return nil
			}
			if _, ok := u.form(); ok {
				t.Fatal("a batch was formed though its intent was not written")
			}
			byState, intents := stateOfDocs(t, st)
			if byState[state.DocBatched] != docsPerWrite || byState[state.DocQueued] != 50-docsPerWrite || intents != 0 {
				t.Fatalf("after the stop: documents %v, intents %d; want %d batched without an intent", byState, intents, docsPerWrite)
			}
			if restart {
				u, _, tr = uploaderOn(t, st, fa)
			} else {
				u.mu.Lock()
				u.partWritten, u.paused = nil, u.paused.AddDate(-1, 0, 0)
				u.mu.Unlock()
			}
			if n := sendAll(t, u); n != 1 {
				t.Errorf("%d batches, want 1", n)
			}
			byState, intents = stateOfDocs(t, st)
			if len(fa.keys) != 1 || byState[state.DocSubmitted] != 50 || intents != 0 || len(tr.docs) != 50 {
				t.Errorf("submissions %d, documents %v, intents %d, tracked %d; want 1 submission of all 50", len(fa.keys), byState, intents, len(tr.docs))
			}
			if idle, _ := u.Idle(); !idle {
				t.Error("uploader not idle")
			}
		})
	}
}

// A stop between two parts of an answer's record: the intent stays, and
// the restart replays it with its key. The documents recorded before are
// left as they are; the rest are recorded from the replayed answer, and
// the poller follows all of them. If the replay is refused instead, only
// the documents still waiting on the intent are put back or failed.
func TestAnswerInterruptedBetweenParts(t *testing.T) {
	for _, c := range []struct {
		name   string
		replay error
	}{
		{"answered from the cache", nil},
		{"refused for credits", apiErr(402, apitypes.CodeInsufficientCredits, "not enough credits")},
		{"refused for the parser", apiErr(404, apitypes.CodeParserNotFound, "no such parser")},
	} {
		t.Run(c.name, func(t *testing.T) {
			fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1 << 20, cached: map[string]api.Submission{},
				fail: func(n int, _ []api.Upload) error {
					if n == 2 {
						return c.replay
					}
					return nil
				}}
			u, _, tr, st := newTestUploader(t, fa, manyNames(50)...)
			u.partWritten = func(what string) error {
				if what == "answer" {
					return errStopped
				}
				return nil
			}
			sendAll(t, u)
			byState, intents := stateOfDocs(t, st)
			if byState[state.DocSubmitted] != docsPerWrite || byState[state.DocBatched] != 50-docsPerWrite || intents != 1 {
				t.Fatalf("after the stop: documents %v, intents %d", byState, intents)
			}
			if len(tr.docs) != docsPerWrite {
				t.Errorf("tracked %d documents, want the %d recorded", len(tr.docs), docsPerWrite)
			}
			first := maps.Clone(tr.docs)

			u, fin, tr := uploaderOn(t, st, fa)
			replays := slices.Clone(u.intents)
			if len(replays) != 1 {
				t.Fatalf("%d intents to replay, want 1", len(replays))
			}
			u.sending++
			u.send(context.Background(), replays[0])
			if len(fa.keys) != 2 || fa.keys[0] != fa.keys[1] {
				t.Fatalf("keys %v, want the first key replayed", fa.keys)
			}
			_ = st.View(func(tx *state.Tx) error {
				for _, k := range first {
					d, _, _ := tx.Doc(k)
					if d.State != state.DocSubmitted || d.ExtractionID != "ext_1" {
						t.Errorf("%s recorded before the stop is now %s (job %q)", d.First, d.State, d.ExtractionID)
					}
				}
				return nil
			})
			byState, intents = stateOfDocs(t, st)
			if intents != 0 {
				t.Errorf("%d intents left", intents)
			}
			switch c.replay {
			case nil:
				if byState[state.DocSubmitted] != 50 || len(tr.docs) != 50 {
					t.Errorf("documents %v, tracked %d; want all 50 submitted and followed", byState, len(tr.docs))
				}
			default:
				rest := 50 - docsPerWrite
				if got := byState[state.DocQueued] + len(fin.failed); got != rest {
					t.Errorf("documents %v, failed %d; want the %d not recorded put back or failed", byState, len(fin.failed), rest)
				}
				for k := range fin.failed {
					if slices.Contains(slices.Collect(maps.Values(first)), k) {
						t.Errorf("%s was recorded as submitted, then failed", k)
					}
				}
			}
		})
	}
}

// A document that changes between two parts of an intent (its file was
// deleted) makes the batch be chosen again, without it; the documents
// marked by the first part go in under the new key.
func TestDocumentChangedBetweenIntentParts(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1 << 20}
	names := manyNames(50)
	u, _, tr, st := newTestUploader(t, fa, names...)
	gone := state.DocKey("prs", fmt.Sprintf("%064x", docsPerWrite+5))
	changed := false
	u.partWritten = func(what string) error {
		if what != "intent" || changed {
			return nil
		}
		changed = true
		return st.Update(func(tx *state.Tx) error {
			d, _, err := tx.Doc(gone)
			if err != nil {
				return err
			}
			if err := tx.DetachAll(&d); err != nil {
				return err
			}
			d.State = state.DocFailed
			return tx.SeedDoc(d)
		})
	}
	b, ok := u.form()
	if !ok {
		t.Fatal("no batch formed")
	}
	if len(b.Docs) != 49 || slices.Contains(b.Docs, gone) {
		t.Fatalf("batch of %d documents (holds the changed one: %v), want the other 49", len(b.Docs), slices.Contains(b.Docs, gone))
	}
	_ = st.View(func(tx *state.Tx) error {
		for _, k := range b.Docs {
			if d, _, _ := tx.Doc(k); d.State != state.DocBatched || d.Batch != b.Key {
				t.Errorf("%s: %s in batch %q, want batched in %q", k, d.State, d.Batch, b.Key)
			}
		}
		_, ok, _ := tx.Batch(b.Key)
		if !ok {
			t.Error("the intent was not written")
		}
		return nil
	})
	u.send(context.Background(), b)
	if byState, intents := stateOfDocs(t, st); byState[state.DocSubmitted] != 49 || intents != 0 || len(tr.docs) != 49 || len(fa.keys) != 1 {
		t.Errorf("documents %v, intents %d, tracked %d, submissions %d", byState, intents, len(tr.docs), len(fa.keys))
	}
}
