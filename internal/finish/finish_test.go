package finish_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

type env struct {
	t      *testing.T
	dir    string
	st     *state.Store
	fin    *finish.Finisher
	mu     sync.Mutex
	sunk   []finish.Written
	forgot []string
}

func (e *env) Forget(_ int, path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forgot = append(e.forgot, path)
}

func newEnv(t *testing.T, move bool) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, dir: dir, st: st}
	in := finish.Inbox{Path: filepath.Join(dir, "inbox"), Move: move,
		ProcessedDir: filepath.Join(dir, "done"), FailedDir: filepath.Join(dir, "failed")}
	e.fin = finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{in}, Watcher: e,
		Sink: finish.SinkFunc(func(_ context.Context, w finish.Written) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.sunk = append(e.sunk, w)
		})})
	return e
}

// file creates a submitted document with one waiting file named name.
func (e *env) file(name string, pages int) (string, string) {
	e.t.Helper()
	p := filepath.Join(e.dir, "inbox", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("%PDF-1.4 x %%EOF"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	sha := name + "-sha"
	key := state.DocKey("prs", sha)
	if err := e.st.Update(func(tx *state.Tx) error {
		if err := tx.SeedFile(state.File{Path: p, Inbox: filepath.Join(e.dir, "inbox"), ParserID: "prs", SHA256: sha, Pages: pages, State: state.FileQueued}); err != nil {
			return err
		}
		return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: sha, Pages: pages, State: state.DocSubmitted,
			Files: []string{p}, UploadName: filepath.Base(name), DocumentID: "doc_1"})
	}); err != nil {
		e.t.Fatal(err)
	}
	return p, key
}

func (e *env) rec(p string) state.File {
	e.t.Helper()
	var f state.File
	_ = e.st.View(func(tx *state.Tx) error { f, _, _ = tx.File(p); return nil })
	return f
}

func doc(t *testing.T, js string) apitypes.Document {
	t.Helper()
	var d apitypes.Document
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDoneWritesResultRecordsAndReports(t *testing.T) {
	e := newEnv(t, false)
	p, key := e.file("a.pdf", 2)
	d := doc(t, `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":2,"extracted_data":{"n":1}}`)
	if err := e.fin.Done(context.Background(), key, d); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(results.ResultPath(p))
	if err != nil {
		t.Fatal(err)
	}
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil || r.Source.Path != p {
		t.Fatalf("result %s: %v", b, err)
	}
	if f := e.rec(p); f.State != state.FileDone || f.Result != results.ResultPath(p) {
		t.Errorf("record %+v", f)
	}
	if len(e.sunk) != 1 || e.sunk[0].Output != results.ResultPath(p) || e.sunk[0].File.Path != p || len(e.sunk[0].Document) == 0 {
		t.Errorf("sink got %+v", e.sunk)
	}
	if !e.fin.Idle() {
		t.Error("not idle after writing")
	}
}

// A document that does not match its file: nothing is written, the file
// keeps its state and carries the reason.
func TestMismatchWritesNothing(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"other filename", `{"document_id":"doc_1","filename":"b.pdf","status":"completed","page_count":2}`},
		{"no filename", `{"document_id":"doc_1","status":"completed","page_count":2}`},
		{"other page count", `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false)
			p, key := e.file("a.pdf", 2)
			err := e.fin.Done(context.Background(), key, doc(t, tt.doc))
			if !errors.Is(err, finish.ErrMismatch) {
				t.Fatalf("Done: %v, want ErrMismatch", err)
			}
			for _, out := range []string{results.ResultPath(p), results.ErrorPath(p)} {
				if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s written", out)
				}
			}
			if f := e.rec(p); f.State != state.FileQueued || f.Code != "RESULT_MISMATCH" || f.Reason == "" {
				t.Errorf("record %+v", f)
			}
			if len(e.sunk) != 0 {
				t.Errorf("sink called: %+v", e.sunk)
			}
		})
	}
}

func TestFailedDocumentGetsErrorFileAndMoves(t *testing.T) {
	e := newEnv(t, true)
	p, key := e.file("sub/a.pdf", 1)
	if err := e.fin.Failed(context.Background(), []string{key}, "PARSER_NOT_FOUND", "fix parser_id"); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(e.dir, "failed", "sub", "a.pdf")
	b, err := os.ReadFile(results.ErrorPath(moved))
	if err != nil {
		t.Fatalf("error file not moved beside the file: %v", err)
	}
	var ef results.ErrorFile
	if err := json.Unmarshal(b, &ef); err != nil || ef.Error.Code != "PARSER_NOT_FOUND" {
		t.Errorf("error file %s: %v", b, err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Error("file still in the inbox")
	}
	// The record stays, failed, and says where the file went: moved files
	// are counted in the summary and the status.
	if f, ok, _ := func() (state.File, bool, error) {
		var f state.File
		var ok bool
		err := e.st.View(func(tx *state.Tx) error { var err error; f, ok, err = tx.File(p); return err })
		return f, ok, err
	}(); !ok || f.State != state.FileFailed || f.MovedTo == "" {
		t.Errorf("record of a moved file: %+v (found %v), want failed with moved_to", f, ok)
	}
	if len(e.forgot) != 1 || e.forgot[0] != p {
		t.Errorf("watcher told to forget %v", e.forgot)
	}
}

func TestRefusedAndAlreadyDone(t *testing.T) {
	e := newEnv(t, false)
	p := filepath.Join(e.dir, "inbox", "bad.pdf")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results.ResultPath(p), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := state.File{Path: p, Inbox: filepath.Join(e.dir, "inbox"), SHA256: "s"}
	if err := e.fin.Refused(context.Background(), rec, "NOT_A_PDF", "not a PDF"); err != nil {
		t.Fatal(err)
	}
	if f := e.rec(p); f.State != state.FileInvalid || f.Code != "NOT_A_PDF" || f.Result != results.ErrorPath(p) {
		t.Errorf("record %+v", f)
	}
	if _, err := os.Stat(results.ResultPath(p)); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale result kept beside a fresh error file")
	}

	good := filepath.Join(e.dir, "inbox", "good.pdf")
	if _, err := results.WriteResult(good, json.RawMessage(`{"n":1}`), results.Source{Path: good, SHA256: "abc"}, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sha  string
		want bool
	}{{"other", false}, {"abc", true}} {
		done, err := e.fin.AlreadyDone(state.File{Path: good, Inbox: filepath.Join(e.dir, "inbox"), SHA256: tt.sha})
		if err != nil || done != tt.want {
			t.Errorf("AlreadyDone(sha %s) = %v, %v; want %v", tt.sha, done, err, tt.want)
		}
	}
	if f := e.rec(good); f.State != state.FileDone {
		t.Errorf("record %+v", f)
	}
}

// A result that cannot be written stays pending and is written by Run once
// the folder is writable again; Recover finds it after a restart.
func TestWriteFailureStaysPending(t *testing.T) {
	e := newEnv(t, false)
	p, key := e.file("a.pdf", 1)
	inbox := filepath.Dir(p)
	// A folder in the result's place makes the rename fail, for any user.
	blocker := results.ResultPath(p)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := doc(t, `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":1}`)
	if err := e.fin.Done(context.Background(), key, d); err != nil {
		t.Fatal(err)
	}
	if e.fin.Idle() || e.fin.WriteErrors() != 1 {
		t.Fatalf("idle %v write errors %d: want pending and one error", e.fin.Idle(), e.fin.WriteErrors())
	}
	again := finish.New(finish.Options{Store: e.st, Inboxes: []finish.Inbox{{Path: inbox}}})
	if err := again.Recover(); err != nil || again.Idle() {
		t.Fatalf("Recover: %v, idle %v: want the document pending", err, again.Idle())
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	changed := e.fin.Changed()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.fin.Run(ctx, 10*time.Millisecond)
	select {
	case <-changed:
	case <-time.After(patience.Scale(5 * time.Second)):
		t.Fatal("pending result never written")
	}
	if !e.fin.Idle() || e.rec(p).State != state.FileDone {
		t.Errorf("idle %v, record %+v", e.fin.Idle(), e.rec(p))
	}
}

func TestInboxOfPicksTheInnermostInbox(t *testing.T) {
	fin := finish.New(finish.Options{Inboxes: []finish.Inbox{{Path: "/srv/in"}, {Path: "/srv/in/deep"}, {Path: "/srv/other"}}})
	for _, tt := range []struct {
		path string
		want int
		ok   bool
	}{
		{"/srv/in/a.pdf", 0, true},
		{"/srv/in/deep/x/a.pdf", 1, true},
		{"/srv/other/a.pdf", 2, true},
		{"/srv/inbox/a.pdf", -1, false},
		{"/srv/in", -1, false},
		{"/elsewhere/a.pdf", -1, false},
	} {
		if i, ok := fin.InboxOf(tt.path); i != tt.want || ok != tt.ok {
			t.Errorf("InboxOf(%s) = %d, %v; want %d, %v", tt.path, i, ok, tt.want, tt.ok)
		}
	}
}

// With ResultsDir, outputs go to the mirrored path (folders created as
// needed), a later error file replaces the result there, nothing is written
// beside the file, and a move takes the file alone.
func TestResultsDirOutputs(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(map[bool]string{false: "stay", true: "move"}[move], func(t *testing.T) {
			e := newEnv(t, move)
			inbox, out := filepath.Join(e.dir, "inbox"), filepath.Join(e.dir, "results")
			e.fin = finish.New(finish.Options{Store: e.st, Watcher: e, Inboxes: []finish.Inbox{{Path: inbox, ResultsDir: out, Move: move,
				ProcessedDir: filepath.Join(e.dir, "done"), FailedDir: filepath.Join(e.dir, "failed")}}})
			p, key := e.file(filepath.Join("2026", "03", "a.pdf"), 1)
			d := doc(t, `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":1,"extracted_data":{"n":1}}`)
			if err := e.fin.Done(context.Background(), key, d); err != nil {
				t.Fatal(err)
			}
			res := filepath.Join(out, "2026", "03", "a.pdf.json")
			if src, ok := results.ReadSourceAt(res); !ok || src.Path != p {
				t.Fatalf("no result at %s: %+v", res, src)
			}
			if move {
				moved := filepath.Join(e.dir, "done", "2026", "03", "a.pdf")
				if _, err := os.Stat(moved); err != nil {
					t.Errorf("not moved: %v", err)
				}
				if _, err := os.Stat(moved + ".json"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the result was moved with the file")
				}
				if _, err := os.Stat(res); err != nil {
					t.Errorf("the result left results_dir: %v", err)
				}
				return
			}
			if f := e.rec(p); f.Result != res {
				t.Errorf("recorded output %q, want %q", f.Result, res)
			}
			if err := e.fin.Refused(context.Background(), state.File{Path: p, Inbox: inbox, SHA256: "new"}, "DAMAGED_IMAGE", "damaged"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "2026", "03", "a.pdf.error.json")); err != nil {
				t.Errorf("no error file in results_dir: %v", err)
			}
			if _, err := os.Stat(res); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the stale result stays: %v", err)
			}
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 1 {
				t.Errorf("the inbox folder holds %d entries, want only a.pdf", len(entries))
			}
		})
	}
}
