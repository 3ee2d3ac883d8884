package finish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
)

// storedResult returns the result the state holds for key.
func storedResult(t *testing.T, st *state.Store, key string) json.RawMessage {
	t.Helper()
	var d state.Doc
	if err := st.View(func(tx *state.Tx) error {
		var ok bool
		var err error
		d, ok, err = tx.Doc(key)
		if err == nil && !ok {
			err = errors.New("no document " + key)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d.Result
}

// addWaiting records another file waiting on key's document, with state
// st (FileQueued or FileDuplicate).
func (e *env) addWaiting(key, path, sha string, st state.FileState) {
	e.t.Helper()
	if err := e.st.Update(func(tx *state.Tx) error {
		d, _, err := tx.Doc(key)
		if err != nil {
			return err
		}
		d.Files = append(d.Files, path)
		if err := tx.SeedDoc(d); err != nil {
			return err
		}
		return tx.SeedFile(state.File{Path: path, Inbox: filepath.Join(e.dir, "inbox"), ParserID: d.ParserID, SHA256: sha, Pages: d.Pages, State: st})
	}); err != nil {
		e.t.Fatal(err)
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The stored result goes with the record of the last file written; a file
// deleted before its result counts as done with.
func TestResultReleasedOnceEveryFileIsWritten(t *testing.T) {
	e := newEnv(t, false)
	a, key := e.file("a.pdf", 1)
	b, gone := filepath.Join(e.dir, "inbox", "b.pdf"), filepath.Join(e.dir, "inbox", "gone.pdf")
	writeFile(t, b, []byte("%PDF-1.4 x %%EOF"))
	e.addWaiting(key, b, "a.pdf-sha", state.FileDuplicate)
	e.addWaiting(key, gone, "a.pdf-sha", state.FileDuplicate) // never on disk
	d := doc(t, `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":1,"extracted_data":{"n":1}}`)
	if err := e.fin.Done(context.Background(), key, d); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		if f := e.rec(p); f.State != state.FileDone {
			t.Errorf("%s: %+v, want done", p, f)
		}
	}
	if f := e.rec(gone); f.State != state.FileGone {
		t.Errorf("deleted file: %+v, want gone", f)
	}
	if r := storedResult(t, e.st, key); r != nil {
		t.Errorf("the state still holds the result after every file was written: %s", r)
	}

	// Every file deleted before the result came: nothing waits, nothing kept.
	e2 := newEnv(t, false)
	p, key2 := e2.file("x.pdf", 1)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := e2.fin.Done(context.Background(), key2, doc(t, `{"document_id":"doc_1","filename":"x.pdf","status":"completed","page_count":1}`)); err != nil {
		t.Fatal(err)
	}
	if r := storedResult(t, e2.st, key2); r != nil || e2.rec(p).State != state.FileGone {
		t.Errorf("result %s kept for a file that was deleted (%+v)", r, e2.rec(p))
	}

	// Its files detached (deleted while it was processed): nothing waits.
	e3 := newEnv(t, false)
	p3, key3 := e3.file("y.pdf", 1)
	if err := e3.st.Update(func(tx *state.Tx) error {
		d, _, err := tx.Doc(key3)
		if err != nil {
			return err
		}
		if err := tx.Detach(&d, p3); err != nil {
			return err
		}
		return tx.SeedDoc(d)
	}); err != nil {
		t.Fatal(err)
	}
	if err := e3.fin.Done(context.Background(), key3, doc(t, `{"document_id":"doc_1","filename":"y.pdf","status":"completed","page_count":1}`)); err != nil {
		t.Fatal(err)
	}
	if r := storedResult(t, e3.st, key3); r != nil {
		t.Errorf("result %s kept for a document no file waits on", r)
	}
}

// While a write fails (a folder squats on the result's name) the result
// stays in the state, also across a restart; it goes once the retry wrote it.
func TestResultKeptWhileAWriteFails(t *testing.T) {
	e := newEnv(t, false)
	a, key := e.file("a.pdf", 1)
	b := filepath.Join(e.dir, "inbox", "b.pdf")
	writeFile(t, b, []byte("%PDF-1.4 x %%EOF"))
	e.addWaiting(key, b, "a.pdf-sha", state.FileDuplicate)
	blocker := results.ResultPath(b)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := doc(t, `{"document_id":"doc_1","filename":"a.pdf","status":"completed","page_count":1,"extracted_data":{"n":7}}`)
	if err := e.fin.Done(context.Background(), key, d); err != nil {
		t.Fatal(err)
	}
	if e.rec(a).State != state.FileDone || e.rec(b).State != state.FileDuplicate || e.fin.Idle() {
		t.Fatalf("a %+v, b %+v, idle %v: want a done, b pending", e.rec(a), e.rec(b), e.fin.Idle())
	}
	if r := storedResult(t, e.st, key); !bytes.Contains(r, []byte(`"n":7`)) {
		t.Fatalf("result dropped while a write is pending: %s", r)
	}
	// A restart finds the pending file and still has the result for it.
	again := finish.New(finish.Options{Store: e.st, Inboxes: []finish.Inbox{{Path: filepath.Join(e.dir, "inbox")}}})
	if err := again.Recover(); err != nil || again.Idle() {
		t.Fatalf("Recover: %v, idle %v", err, again.Idle())
	}
	again.RetryPending(context.Background())
	if e.rec(b).State != state.FileDuplicate || storedResult(t, e.st, key) == nil {
		t.Fatalf("b %+v: the write still fails and the result must stay", e.rec(b))
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	e.fin.RetryPending(context.Background())
	if f := e.rec(b); f.State != state.FileDone || !e.fin.Idle() {
		t.Fatalf("b %+v idle %v after the retry", f, e.fin.Idle())
	}
	if r := storedResult(t, e.st, key); r != nil {
		t.Errorf("result kept after the retry wrote the last file: %s", r)
	}
	var res results.Result
	if raw, err := os.ReadFile(results.ResultPath(b)); err != nil || json.Unmarshal(raw, &res) != nil || !bytes.Contains(compact(t, res.Document), []byte(`"n":7`)) || res.DuplicateOf != a {
		t.Errorf("b's result %+v (%v)", res, err)
	}
}

// apiEnv is an env whose first file a.pdf was really processed by the
// emulator and finished (its result written, the stored copy dropped).
type apiEnv struct {
	*env
	emu     *emulator.Emulator
	fail    atomic.Bool // the document route answers 503
	fetches atomic.Int32
	content []byte
	sha     string
	key     string
	first   string
	docID   string
	extID   string
}

const docRoute = "GET /v1/extractions/:id/documents/:doc_id"

// newAPIEnv processes a.pdf through the emulator; with fetch the Finisher
// asks the API for results it cannot find on disk.
func newAPIEnv(t *testing.T, move, fetch bool) *apiEnv {
	t.Helper()
	e := &apiEnv{env: newEnv(t, move)}
	e.emu = emulator.New(emulator.Options{ProcessingTime: time.Millisecond, RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.fail.Load() && strings.Contains(r.URL.Path, "/documents/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"try later"}}`)
			return
		}
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); e.emu.Close() })
	c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: "pp_test_local", RateWindow: time.Second,
		MaxRetries: 1, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	inv := samples.Generate(3, 1, 2)
	if e.content, err = inv.PDF(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(e.content)
	e.sha = hex.EncodeToString(sum[:])
	e.key = state.DocKey("prs_invoice", e.sha)
	e.first = filepath.Join(e.dir, "inbox", "a.pdf")
	writeFile(t, e.first, e.content)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := c.Submit(ctx, "prs_invoice", "key-"+e.sha, []api.Upload{{Name: "a.pdf",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(e.content)), nil }}})
	if err != nil {
		t.Fatal(err)
	}
	e.extID = sub.Extraction.ExtractionID
	var got apitypes.Document
	for got.Status != apitypes.StatusCompleted {
		if ctx.Err() != nil {
			t.Fatalf("the emulator did not finish the document: %+v", got)
		}
		x, err := c.Results(ctx, e.extID)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Documents) == 1 {
			got = x.Documents[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.docID = got.DocumentID
	if err := e.st.Update(func(tx *state.Tx) error {
		if err := tx.SeedFile(state.File{Path: e.first, Inbox: filepath.Join(e.dir, "inbox"), ParserID: "prs_invoice", SHA256: e.sha,
			Size: int64(len(e.content)), Pages: 2, State: state.FileQueued}); err != nil {
			return err
		}
		return tx.SeedDoc(state.Doc{Key: e.key, ParserID: "prs_invoice", SHA256: e.sha, Size: int64(len(e.content)), Pages: 2,
			State: state.DocSubmitted, Files: []string{e.first}, UploadName: "a.pdf", ExtractionID: e.extID, DocumentID: e.docID})
	}); err != nil {
		t.Fatal(err)
	}
	o := finish.Options{Store: e.st, Watcher: e.env, Inboxes: []finish.Inbox{{Path: filepath.Join(e.dir, "inbox"), Move: move,
		ProcessedDir: filepath.Join(e.dir, "done"), FailedDir: filepath.Join(e.dir, "failed")}}}
	if fetch {
		o.Fetch = func(ctx context.Context, extractionID, documentID string) (json.RawMessage, error) {
			e.fetches.Add(1)
			d, err := c.Document(ctx, extractionID, documentID)
			if api.IsNotFound(err) {
				return nil, errors.Join(finish.ErrResultGone, err)
			}
			if err != nil {
				return nil, err
			}
			return d.Raw(), nil
		}
	}
	e.fin = finish.New(o)
	if err := e.fin.Done(ctx, e.key, got); err != nil {
		t.Fatal(err)
	}
	if e.rec(e.first).State != state.FileDone || storedResult(t, e.st, e.key) != nil {
		t.Fatalf("first file %+v, stored result %s: want done and dropped", e.rec(e.first), storedResult(t, e.st, e.key))
	}
	return e
}

// dup drops a file with the first file's content under name and finishes
// it as the daemon does: Finish from the intake, then a round of Run.
func (e *apiEnv) dup(name string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, "inbox", name)
	writeFile(e.t, p, e.content)
	e.addWaiting(e.key, p, e.sha, state.FileDuplicate)
	e.fin.Finish(context.Background(), e.key)
	e.fin.RetryPending(context.Background())
	return p
}

// firstResult is where the first file's result is now.
func (e *apiEnv) firstResult() string {
	if f := e.rec(e.first); f.MovedTo != "" {
		return results.ResultPath(f.MovedTo)
	}
	return results.ResultPath(e.first)
}

// documentOf reads the document of p's result file.
func documentOf(t *testing.T, p string) apitypes.Document {
	t.Helper()
	b, err := os.ReadFile(results.ResultPath(p))
	if err != nil {
		t.Fatal(err)
	}
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var d apitypes.Document
	if err := json.Unmarshal(r.Document, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *apiEnv) charged() (pages, docs int) {
	st := e.emu.Stats()
	return st.PagesCharged, st.DocumentsCreated
}

// A later file with the same content gets its result from the first
// file's result file (beside it, or where after = "move" took it), without
// asking the API and without being charged.
func TestLaterDuplicateReadsTheEarlierResultFile(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(map[bool]string{false: "stay", true: "move"}[move], func(t *testing.T) {
			e := newAPIEnv(t, move, true)
			if move && e.rec(e.first).MovedTo == "" {
				t.Fatal("the first file was not moved")
			}
			pages, docs := e.charged()
			b := e.dup("copy.pdf")
			if f := e.rec(b); f.State != state.FileDone {
				t.Fatalf("duplicate %+v, want done", f)
			}
			res := b
			if move {
				res = e.rec(b).MovedTo
			}
			if d := documentOf(t, res); d.DocumentID != e.docID || len(d.ExtractedData) == 0 {
				t.Errorf("duplicate's document %+v, want %s with its data", d, e.docID)
			}
			if n := e.fetches.Load(); n != 0 {
				t.Errorf("asked the API %d times; the result file was there", n)
			}
			if p, d := e.charged(); p != pages || d != docs {
				t.Errorf("charged again: pages %d→%d, documents %d→%d", pages, p, docs, d)
			}
			if r := storedResult(t, e.st, e.key); r != nil {
				t.Errorf("the recalled result stays in the state: %s", r)
			}
		})
	}
}

// With the first result file gone, or not to be trusted, the result is
// fetched from the API again (free); a tampered file is never used.
func TestLaterDuplicateFetchedFromTheAPI(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, e *apiEnv, out string)
	}{
		{"result file deleted", func(t *testing.T, e *apiEnv, out string) {
			if err := os.Remove(out); err != nil {
				t.Fatal(err)
			}
		}},
		{"other content", func(t *testing.T, e *apiEnv, out string) {
			rewrite(t, out, func(r *results.Result) {
				r.Source.SHA256 = strings.Repeat("0", 64)
				r.Document = json.RawMessage(`{"document_id":"` + e.docID + `","status":"completed","extracted_data":{"invoice_number":"FORGED"}}`)
			})
		}},
		{"other document", func(t *testing.T, e *apiEnv, out string) {
			rewrite(t, out, func(r *results.Result) {
				r.Document = json.RawMessage(`{"document_id":"doc_earlier","status":"completed","extracted_data":{"invoice_number":"FORGED"}}`)
			})
		}},
		// A result that would be accepted if read, reached through a link
		// to a file outside the inbox: never read.
		{"symlink to a file outside the inbox", func(t *testing.T, e *apiEnv, out string) {
			linkOutside(t, e, out, os.Symlink)
		}},
		{"hard link to a file outside the inbox", func(t *testing.T, e *apiEnv, out string) {
			linkOutside(t, e, out, os.Link)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIEnv(t, false, true)
			tt.tamper(t, e, e.firstResult())
			pages, docs := e.charged()
			before := e.emu.Stats().Requests[docRoute]
			b := e.dup("copy.pdf")
			if f := e.rec(b); f.State != state.FileDone {
				t.Fatalf("duplicate %+v, want done", f)
			}
			d := documentOf(t, b)
			if d.DocumentID != e.docID || bytes.Contains(mustJSON(t, d.ExtractedData), []byte("FORGED")) || len(d.ExtractedData) == 0 {
				t.Errorf("duplicate's document %+v, want the API's %s", d, e.docID)
			}
			if n := e.emu.Stats().Requests[docRoute] - before; n != 1 {
				t.Errorf("%d document requests, want 1", n)
			}
			if p, n := e.charged(); p != pages || n != docs {
				t.Errorf("charged again: pages %d→%d, documents %d→%d", pages, p, docs, n)
			}
			if r := storedResult(t, e.st, e.key); r != nil {
				t.Errorf("the fetched result stays in the state: %s", r)
			}
		})
	}
}

// linkOutside moves the result at out to a private folder outside the
// inbox, forged but matching the content and document, and links it back.
func linkOutside(t *testing.T, e *apiEnv, out string, link func(oldname, newname string) error) {
	t.Helper()
	rewrite(t, out, func(r *results.Result) {
		r.Document = json.RawMessage(`{"document_id":"` + e.docID + `","status":"completed","extracted_data":{"invoice_number":"FORGED"}}`)
	})
	private := filepath.Join(e.dir, "private")
	if err := os.MkdirAll(private, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(private, filepath.Base(out))
	if err := os.Rename(out, outside); err != nil {
		t.Fatal(err)
	}
	if err := link(outside, out); err != nil {
		t.Skipf("links unavailable: %v", err)
	}
}

func rewrite(t *testing.T, out string, change func(*results.Result)) {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	change(&r)
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// When neither a result file nor the API has the result, the file gets an
// error file saying so and what to do; nothing is submitted or charged.
func TestResultUnavailableWritesAnErrorFile(t *testing.T) {
	tests := []struct {
		name  string
		fetch bool
		ids   func(d *state.Doc)
	}{
		{"no fetch configured", false, nil},
		{"the API forgot it", true, func(d *state.Doc) { d.DocumentID = "doc_forgotten" }},
		{"no ids", true, func(d *state.Doc) { d.ExtractionID, d.DocumentID = "", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIEnv(t, false, tt.fetch)
			if err := os.Remove(e.firstResult()); err != nil {
				t.Fatal(err)
			}
			if tt.ids != nil {
				if err := e.st.Update(func(tx *state.Tx) error {
					d, _, err := tx.Doc(e.key)
					if err != nil {
						return err
					}
					tt.ids(&d)
					return tx.SeedDoc(d)
				}); err != nil {
					t.Fatal(err)
				}
			}
			pages, docs := e.charged()
			submits := e.emu.Stats().Requests["POST /v1/extractions"]
			b := e.dup("copy.pdf")
			f := e.rec(b)
			if f.State != state.FileFailed || f.Code != finish.CodeResultUnavailable || f.Result != results.ErrorPath(b) {
				t.Fatalf("duplicate %+v, want failed with %s", f, finish.CodeResultUnavailable)
			}
			raw, err := os.ReadFile(results.ErrorPath(b))
			if err != nil {
				t.Fatal(err)
			}
			var ef results.ErrorFile
			if err := json.Unmarshal(raw, &ef); err != nil {
				t.Fatal(err)
			}
			if ef.Error.Code != finish.CodeResultUnavailable || !strings.Contains(ef.Error.Message, "copy.pdf") ||
				!strings.Contains(ef.Error.Message, "no longer on disk") || !strings.Contains(ef.Error.Message, "ppsync retry --reprocess "+b) ||
				!strings.Contains(ef.Error.Message, "charged again") {
				t.Errorf("error file %+v", ef)
			}
			if _, err := os.Stat(results.ResultPath(b)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a result file was written: %v", err)
			}
			if p, d := e.charged(); p != pages || d != docs || e.emu.Stats().Requests["POST /v1/extractions"] != submits {
				t.Errorf("submitted or charged: pages %d→%d, documents %d→%d", pages, p, docs, d)
			}
			if !e.fin.Idle() {
				t.Error("still pending: an unavailable result is final")
			}
		})
	}
}

// A passing API error (here 503) leaves the file waiting, pending and
// without any output; it is written once the API answers again.
func TestTransientAPIErrorKeepsTheFilePending(t *testing.T) {
	e := newAPIEnv(t, false, true)
	if err := os.Remove(e.firstResult()); err != nil {
		t.Fatal(err)
	}
	e.fail.Store(true)
	b := e.dup("copy.pdf")
	if f := e.rec(b); f.State != state.FileDuplicate || e.fin.Idle() {
		t.Fatalf("duplicate %+v idle %v: want it waiting and pending", f, e.fin.Idle())
	}
	for _, p := range []string{results.ResultPath(b), results.ErrorPath(b)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written during the outage", p)
		}
	}
	e.fail.Store(false)
	e.fin.RetryPending(context.Background())
	if f := e.rec(b); f.State != state.FileDone || !e.fin.Idle() {
		t.Fatalf("after the outage: %+v idle %v", f, e.fin.Idle())
	}
	if d := documentOf(t, b); d.DocumentID != e.docID {
		t.Errorf("document %+v", d)
	}
}

// A crash after a duplicate's result file was written but before it was
// recorded: after the restart the file is finished from its own result
// file, with neither the first file's result nor the API.
func TestCrashBetweenWriteAndRecordOfARecalledResult(t *testing.T) {
	e := newAPIEnv(t, false, false)
	b := filepath.Join(e.dir, "inbox", "copy.pdf")
	writeFile(t, b, e.content)
	firstB, err := os.ReadFile(e.firstResult())
	if err != nil {
		t.Fatal(err)
	}
	var first results.Result
	if err := json.Unmarshal(firstB, &first); err != nil {
		t.Fatal(err)
	}
	// written for copy.pdf (its own source), never recorded
	src := results.Source{Path: b, SHA256: first.Source.SHA256, Size: first.Source.Size}
	if err := results.WriteResultAt(results.ResultPath(b), first.Document, src, first.Source.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.firstResult()); err != nil {
		t.Fatal(err)
	}
	e.addWaiting(e.key, b, e.sha, state.FileDuplicate)
	restarted := finish.New(finish.Options{Store: e.st, Inboxes: []finish.Inbox{{Path: filepath.Join(e.dir, "inbox")}}})
	if err := restarted.Recover(); err != nil {
		t.Fatal(err)
	}
	restarted.RetryPending(context.Background())
	if f := e.rec(b); f.State != state.FileDone || !restarted.Idle() {
		t.Fatalf("after the restart: %+v idle %v", f, restarted.Idle())
	}
	if d := documentOf(t, b); d.DocumentID != e.docID {
		t.Errorf("document %+v", d)
	}
}

// A result fetched again for a file whose write then fails is kept in the
// state until the retry wrote it, so the retry does not ask again.
func TestRecalledResultKeptUntilItsWriteSucceeds(t *testing.T) {
	e := newAPIEnv(t, false, true)
	if err := os.Remove(e.firstResult()); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(e.dir, "inbox", "copy.pdf")
	blocker := results.ResultPath(b)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.dup("copy.pdf")
	if f := e.rec(b); f.State != state.FileDuplicate || e.fin.Idle() {
		t.Fatalf("duplicate %+v idle %v: want it pending", f, e.fin.Idle())
	}
	if r := storedResult(t, e.st, e.key); !bytes.Contains(r, []byte(e.docID)) || e.fetches.Load() != 1 {
		t.Fatalf("stored %s after %d fetches: want the fetched result kept", r, e.fetches.Load())
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	e.fin.RetryPending(context.Background())
	if f := e.rec(b); f.State != state.FileDone || e.fetches.Load() != 1 {
		t.Fatalf("after the retry: %+v, %d fetches (want done, fetched once)", f, e.fetches.Load())
	}
	if r := storedResult(t, e.st, e.key); r != nil {
		t.Errorf("result kept after the last write: %s", r)
	}
}

// A state from an earlier version keeps every result: ReleaseStored drops
// those no file waits on, once per state file.
func TestReleaseStoredDropsOldResultsOnce(t *testing.T) {
	e := newEnv(t, false)
	old := json.RawMessage(`{"document_id":"doc_1","status":"completed"}`)
	put := func(name string, fileState state.FileState) string {
		p, key := e.file(name, 1)
		if err := e.st.Update(func(tx *state.Tx) error {
			d, _, err := tx.Doc(key)
			if err != nil {
				return err
			}
			d.State, d.Result = state.DocDone, old
			if err := tx.SeedDoc(d); err != nil {
				return err
			}
			f, _, err := tx.File(p)
			if err != nil {
				return err
			}
			f.State = fileState
			return tx.SeedFile(f)
		}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	finished, waitingOn := put("done.pdf", state.FileDone), put("waiting.pdf", state.FileQueued)
	n, err := e.fin.ReleaseStored(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ReleaseStored = %d, %v; want 1", n, err)
	}
	if r := storedResult(t, e.st, finished); r != nil {
		t.Errorf("a finished document keeps its result: %s", r)
	}
	if r := storedResult(t, e.st, waitingOn); r == nil {
		t.Error("the result of a document a file still waits on was dropped")
	}
	// Once per state file: a second pass changes nothing.
	again := put("later.pdf", state.FileDone)
	if n, err := e.fin.ReleaseStored(context.Background()); err != nil || n != 0 || storedResult(t, e.st, again) == nil {
		t.Errorf("second pass: %d, %v", n, err)
	}
}

// Finish, which the uploader calls for a copy of finished content, never
// waits on the API: the file stays pending and Run asks for the result.
func TestFinishLeavesTheAPIToRun(t *testing.T) {
	e := newAPIEnv(t, false, true)
	if err := os.Remove(e.firstResult()); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(e.dir, "inbox", "copy.pdf")
	writeFile(t, b, e.content)
	e.addWaiting(e.key, b, e.sha, state.FileDuplicate)
	e.fin.Finish(context.Background(), e.key)
	if f := e.rec(b); f.State != state.FileDuplicate || e.fin.Idle() || e.fetches.Load() != 0 {
		t.Fatalf("after Finish: %+v, idle %v, %d fetches; want pending, not fetched", f, e.fin.Idle(), e.fetches.Load())
	}
	changed := e.fin.Changed()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { e.fin.Run(ctx, 10*time.Millisecond); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	deadline := time.After(patience.Scale(10 * time.Second))
	for !e.fin.Idle() {
		select {
		case <-changed:
			changed = e.fin.Changed()
		case <-deadline:
			t.Fatal("Run never fetched the result")
		}
	}
	if f := e.rec(b); f.State != state.FileDone || e.fetches.Load() != 1 {
		t.Errorf("after Run: %+v, %d fetches", f, e.fetches.Load())
	}
}
