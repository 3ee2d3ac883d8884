package uploader

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// fakeAPI answers submissions with the documents rename gives them, in
// reverse order.
type fakeAPI struct {
	mu      sync.Mutex
	keys    []string
	rename  func(string) string
	credits int
	// fail, when set, may refuse the nth submission (from 1).
	fail func(n int, files []api.Upload) error
	// cached, when set, answers a key it answered before from its cache
	// (Replayed, nothing charged), as the API's idempotency cache does.
	cached map[string]api.Submission
}

func (f *fakeAPI) Me(context.Context) (apitypes.User, error) {
	return apitypes.User{CreditsAvailable: f.credits}, nil
}

func (f *fakeAPI) Submit(_ context.Context, _, key string, files []api.Upload) (api.Submission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	if f.fail != nil {
		if err := f.fail(len(f.keys), files); err != nil {
			return api.Submission{}, err
		}
	}
	if sub, ok := f.cached[key]; ok {
		sub.Replayed = true
		return sub, nil
	}
	var x apitypes.Extraction
	x.ExtractionID = fmt.Sprint("ext_", len(f.keys))
	for i := len(files) - 1; i >= 0; i-- {
		x.Documents = append(x.Documents, apitypes.Document{DocumentID: "doc_" + files[i].Name, Filename: f.rename(files[i].Name)})
	}
	left := f.credits - len(files)
	x.CreditsRemaining = &left
	if f.cached != nil {
		f.cached[key] = api.Submission{Extraction: x}
	}
	return api.Submission{Extraction: x}, nil
}

type fakeFinisher struct {
	mu     sync.Mutex
	failed map[string]string // key -> code
	msgs   []string
	// already, when set, answers AlreadyDone (a real finisher's).
	already func(state.File) (bool, error)
}

func (f *fakeFinisher) FinishFile(context.Context, string, string) {}
func (f *fakeFinisher) Failed(_ context.Context, keys []string, code, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.failed[k] = code
	}
	f.msgs = append(f.msgs, msg)
	return nil
}
func (f *fakeFinisher) Refused(context.Context, state.File, string, string) error { return nil }
func (f *fakeFinisher) AlreadyDone(rec state.File) (bool, error) {
	if f.already != nil {
		return f.already(rec)
	}
	return false, nil
}
func (f *fakeFinisher) Forget(string) {}

type fakeTracker struct{ docs map[string]string }

func (f *fakeTracker) Track(_ string, docKeys map[string]string) {
	for id, k := range docKeys {
		f.docs[id] = k
	}
}

func newTestUploader(t *testing.T, fa *fakeAPI, names ...string) (*Uploader, *fakeFinisher, *fakeTracker, *state.Store) {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(func(tx *state.Tx) error {
		for i, n := range names {
			sha := fmt.Sprintf("%064x", i)
			if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, Size: 10, Pages: 1,
				State: state.DocQueued, Files: []string{n}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u, fin, tr := uploaderOn(t, st, fa)
	return u, fin, tr, st
}

// uploaderOn starts an uploader on st, as a (re)start of the daemon does.
func uploaderOn(t *testing.T, st *state.Store, fa *fakeAPI) (*Uploader, *fakeFinisher, *fakeTracker) {
	t.Helper()
	fin := &fakeFinisher{failed: map[string]string{}}
	tr := &fakeTracker{docs: map[string]string{}}
	u := New(Options{Store: st, API: fa, Finisher: fin, Tracker: tr, MaxBatchFiles: 50, MaxBatchBytes: 1 << 20,
		CreditRecheck: 5 * time.Millisecond, Once: true})
	if err := u.Recover(); err != nil {
		t.Fatal(err)
	}
	u.IntakeClosed()
	return u, fin, tr
}

// sendAll forms and sends batches until nothing is left to form.
func sendAll(t *testing.T, u *Uploader) int {
	t.Helper()
	n := 0
	for range 10 {
		b, ok := u.form()
		if !ok {
			return n
		}
		u.send(context.Background(), b)
		n++
	}
	t.Fatal("batches never stop forming")
	return n
}

func TestReorderedAnswerIsMatchedByName(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 100}
	u, fin, tr, st := newTestUploader(t, fa, "/in/a.pdf", "/in/b.pdf", "/in/c.pdf")
	if n := sendAll(t, u); n != 1 {
		t.Errorf("%d batches, want 1", n)
	}
	if len(fin.failed) != 0 {
		t.Errorf("failed: %v", fin.failed)
	}
	_ = st.View(func(tx *state.Tx) error {
		return tx.Docs(func(d state.Doc) error {
			if d.State != state.DocSubmitted || d.DocumentID != "doc_"+filepath.Base(d.First) || d.UploadName != filepath.Base(d.First) {
				t.Errorf("%s: state %s document %s upload name %q", d.First, d.State, d.DocumentID, d.UploadName)
			}
			if tr.docs[d.DocumentID] != d.Key {
				t.Errorf("%s: tracked as %q", d.First, tr.docs[d.DocumentID])
			}
			return nil
		})
	})
	if c, known, _ := u.Credits(); !known || c != 97 {
		t.Errorf("credits %d (known %v), want 97", c, known)
	}
}

// An answer that names none of the files: they are sent once more (the
// same batch, the same key, so the API answers from its cache), then they
// fail; nothing is guessed.
func TestAnswerNamingNoFileIsSentAgainThenFails(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return "renamed-" + s }, credits: 100}
	u, fin, tr, _ := newTestUploader(t, fa, "/in/a.pdf", "/in/b.pdf")
	sendAll(t, u)
	if len(fa.keys) != 2 || fa.keys[0] != fa.keys[1] {
		t.Errorf("submission keys %v, want the same key twice", fa.keys)
	}
	if len(fin.failed) != 2 {
		t.Errorf("failed %v, want both files", fin.failed)
	}
	for k, code := range fin.failed {
		if code != "NOT_IN_ANSWER" {
			t.Errorf("%s failed with %s", k, code)
		}
	}
	if len(tr.docs) != 0 {
		t.Errorf("tracked %v: a document was guessed", tr.docs)
	}
	if idle, _ := u.Idle(); !idle {
		t.Error("uploader not idle")
	}
}

// Two files with the same base name from different folders go in
// different batches, each under its own name.
func TestSameUploadNameGoesInSeparateBatches(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 100}
	u, fin, _, _ := newTestUploader(t, fa, "/in/north/scan.pdf", "/in/south/scan.pdf", "/in/x.pdf")
	if n := sendAll(t, u); n != 2 {
		t.Errorf("%d batches, want 2", n)
	}
	if len(fin.failed) != 0 {
		t.Errorf("failed: %v", fin.failed)
	}
}

// settle waits until the uploader has nothing in flight.
func settle(t *testing.T, u *Uploader) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ch := u.Changed()
		u.mu.Lock()
		busy := u.sending > 0 || len(u.intents) > 0
		u.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			t.Fatal("uploader never settled")
		}
	}
}

func apiErr(status int, code, msg string) error {
	return &api.Error{Op: "POST /v1/extractions", StatusCode: status, Code: code, Message: msg}
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// Every submission answer that is neither success nor temporary has a
// bounded path.
func TestRefusedSubmissionsAreBounded(t *testing.T) {
	names := []string{"/in/a.pdf", "/in/b.pdf", "/in/c.pdf", "/in/d.pdf"}
	tests := []struct {
		name        string
		fail        func(n int, files []api.Upload) error
		submissions int
		failed      int
		code        string
		msg         string // in the error, when set
	}{
		{"request-level 400 fails the batch once", func(int, []api.Upload) error {
			return apiErr(400, apitypes.CodeInvalidPayload, "Missing multipart param parser_id.")
		}, 1, 4, apitypes.CodeInvalidPayload, ""},
		{"a 400 naming a file splits to find it", func(_ int, files []api.Upload) error {
			for _, f := range files {
				if f.Name == "c.pdf" {
					return apiErr(400, apitypes.CodeInvalidPayload, `File "c.pdf" is larger than the 100 MiB limit.`)
				}
			}
			return nil
		}, 5, 1, apitypes.CodeInvalidPayload, ""}, // abcd, ab, cd, c, d
		{"a refused file name naming no file splits; the lone file goes under a plain name", func(_ int, files []api.Upload) error {
			for _, f := range files {
				if f.Name == "c.pdf" {
					return apiErr(400, apitypes.CodeInvalidPayload, "Invalid file name: control characters are not allowed.")
				}
			}
			return nil
		}, 6, 0, "", ""}, // abcd, ab, cd, c, document~….pdf, d
		{"a content refused under every name fails alone", func(_ int, files []api.Upload) error {
			for _, f := range files {
				// Content 2 is c.pdf, sent again under a plain name.
				if f.Name == "c.pdf" || strings.HasPrefix(f.Name, "document~") {
					return apiErr(400, apitypes.CodeInvalidPayload, fmt.Sprintf("Invalid file name %q.", f.Name))
				}
			}
			return nil
		}, 6, 1, apitypes.CodeInvalidPayload, ""}, // abcd, ab, cd, c, c again, d
		{"413 splits by size until the batch fits", func(_ int, files []api.Upload) error {
			if len(files) > 1 {
				return apiErr(413, "HTTP_413", "a non-JSON answer (text/html): 413 Request Entity Too Large")
			}
			return nil
		}, 7, 0, "", ""}, // abcd, ab, a, b, cd, c, d
		{"a file too large alone fails with what to do", func(_ int, files []api.Upload) error {
			for _, f := range files {
				if f.Name == "c.pdf" {
					return apiErr(413, "HTTP_413", "a non-JSON answer (text/html): 413 Request Entity Too Large")
				}
			}
			return nil
		}, 5, 1, "HTTP_413", "this file alone"}, // abcd, ab, cd, c, d
		{"an unexpected 409 is tried three times, then every file fails", func(int, []api.Upload) error {
			return apiErr(409, apitypes.CodeConflict, "conflict")
		}, 3, 4, apitypes.CodeConflict, ""},
		{"an unknown 4xx code too", func(int, []api.Upload) error {
			return apiErr(422, "HTTP_422", "unprocessable")
		}, 3, 4, "HTTP_422", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := &fakeAPI{rename: func(s string) string { return s }, credits: 100, fail: tt.fail}
			u, fin, _, _ := newTestUploader(t, fa, names...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b, ok := u.form()
			if !ok {
				t.Fatal("no batch formed")
			}
			u.send(ctx, b)
			settle(t, u)
			if n := fa.count(); n != tt.submissions {
				t.Errorf("%d submissions, want %d", n, tt.submissions)
			}
			fin.mu.Lock()
			defer fin.mu.Unlock()
			if len(fin.failed) != tt.failed {
				t.Errorf("failed %v, want %d files", fin.failed, tt.failed)
			}
			for k, c := range fin.failed {
				if c != tt.code {
					t.Errorf("%s failed with %s, want %s", k, c, tt.code)
				}
			}
			if tt.failed > 0 && (len(fin.msgs) == 0 || fin.msgs[0] == "") {
				t.Error("no API message in the error")
			}
			if tt.msg != "" && (len(fin.msgs) == 0 || !strings.Contains(fin.msgs[0], tt.msg) || !strings.Contains(fin.msgs[0], "ppsync retry")) {
				t.Errorf("error messages %q do not say %q and what to do", fin.msgs, tt.msg)
			}
		})
	}
}

// A batch refused with 402 goes again, after a top-up, under a new key:
// an API that caches error answers under the key would replay the 402.
func TestAfterA402TheBatchGoesUnderANewKey(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 100,
		fail: func(n int, _ []api.Upload) error {
			if n == 1 {
				return apiErr(402, apitypes.CodeInsufficientCredits, "not enough credits")
			}
			return nil
		}}
	u, fin, tr, st := newTestUploader(t, fa, "/in/a.pdf", "/in/b.pdf")
	sendAll(t, u)
	if _, _, waiting := u.Credits(); !waiting {
		t.Fatal("not waiting for credits after a 402")
	}
	u.mu.Lock()
	u.credits.observe(100, time.Now()) // the top-up is seen
	u.mu.Unlock()
	sendAll(t, u)
	if len(fa.keys) != 2 || fa.keys[0] == fa.keys[1] {
		t.Fatalf("keys %v: want two different keys", fa.keys)
	}
	if len(tr.docs) != 2 || len(fin.failed) != 0 {
		t.Errorf("tracked %v failed %v", tr.docs, fin.failed)
	}
	// The new generation is in the state: a restart derives the same key.
	var again []string
	_ = st.View(func(tx *state.Tx) error {
		return tx.Docs(func(d state.Doc) error {
			if d.KeyGen != 1 {
				t.Errorf("%s: key generation %d, want 1", d.First, d.KeyGen)
			}
			again = append(again, d.KeyPart())
			return nil
		})
	})
	if IdempotencyKey("prs", again) != fa.keys[1] {
		t.Error("the key sent after the top-up cannot be derived from the state")
	}
}

// A backlog waits in the queue: batches are formed at most two rounds of
// senders ahead of the ones that finished, however many documents wait.
func TestBatchesFormedOnlyAheadOfSenders(t *testing.T) {
	fa := &fakeAPI{rename: func(s string) string { return s }, credits: 1 << 20}
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("/in/%04d.pdf", i)
	}
	u, _, _, _ := newTestUploader(t, fa, names...)
	var formed []state.Batch
	for range 40 {
		b, ok := u.form()
		if !ok {
			break
		}
		formed = append(formed, b)
	}
	if want := 2 * cap(u.sem); len(formed) != want {
		t.Fatalf("%d batches formed with none sent, want %d (two rounds of %d senders)", len(formed), want, cap(u.sem))
	}
	u.send(context.Background(), formed[0])
	if _, ok := u.form(); !ok {
		t.Fatal("no batch formed after one was sent")
	}
	if _, ok := u.form(); ok {
		t.Fatal("a batch formed beyond two rounds of senders")
	}
}
