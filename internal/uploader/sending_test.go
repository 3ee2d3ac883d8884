package uploader

import (
	"context"
	"fmt"
	"path/filepath"
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
}

func (f *fakeAPI) Me(context.Context) (apitypes.User, error) {
	return apitypes.User{CreditsAvailable: f.credits}, nil
}

func (f *fakeAPI) Submit(_ context.Context, _, key string, files []api.Upload) (api.Submission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	var x apitypes.Extraction
	x.ExtractionID = fmt.Sprint("ext_", len(f.keys))
	for i := len(files) - 1; i >= 0; i-- {
		x.Documents = append(x.Documents, apitypes.Document{DocumentID: "doc_" + files[i].Name, Filename: f.rename(files[i].Name)})
	}
	left := f.credits - len(files)
	x.CreditsRemaining = &left
	return api.Submission{Extraction: x}, nil
}

type fakeFinisher struct {
	mu     sync.Mutex
	failed map[string]string // key -> code
}

func (f *fakeFinisher) Finish(context.Context, string) {}
func (f *fakeFinisher) Failed(_ context.Context, keys []string, code, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.failed[k] = code
	}
	return nil
}
func (f *fakeFinisher) Refused(context.Context, state.File, string, string) error { return nil }
func (f *fakeFinisher) AlreadyDone(state.File) (bool, error)                      { return false, nil }
func (f *fakeFinisher) Forget(string)                                             {}

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
			if err := tx.PutDoc(state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, Size: 10, Pages: 1,
				State: state.DocQueued, Files: []string{n}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fin := &fakeFinisher{failed: map[string]string{}}
	tr := &fakeTracker{docs: map[string]string{}}
	u := New(Options{Store: st, API: fa, Finisher: fin, Tracker: tr, MaxBatchFiles: 50, MaxBatchBytes: 1 << 20,
		CreditRecheck: time.Minute, Once: true})
	if err := u.Recover(); err != nil {
		t.Fatal(err)
	}
	u.IntakeClosed()
	return u, fin, tr, st
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
			if d.State != state.DocSubmitted || d.DocumentID != "doc_"+filepath.Base(d.Files[0]) || d.UploadName != filepath.Base(d.Files[0]) {
				t.Errorf("%s: state %s document %s upload name %q", d.Files[0], d.State, d.DocumentID, d.UploadName)
			}
			if tr.docs[d.DocumentID] != d.Key {
				t.Errorf("%s: tracked as %q", d.Files[0], tr.docs[d.DocumentID])
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
