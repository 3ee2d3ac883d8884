package webui

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// fixture is a real state file with two inboxes and a fake daemon over it.
type fixture struct {
	t       *testing.T
	st      *state.Store
	cfg     *config.Config
	reader  *store.Files
	live    *fakeLive
	act     *activity.Recorder
	inboxes []string
}

type fakeLive struct {
	st  *state.Store
	cfg *config.Config

	mu        sync.Mutex
	started   time.Time // the daemon's start, in its report (zero: not said)
	retried   [][]string
	reprocess [][]string
}

func (l *fakeLive) Status(context.Context) (report.Report, error) {
	r, err := store.Report(l.st, l.cfg, false)
	credits := 480
	r.CreditsAvailable = &credits
	r.Daemon.Running = true
	l.mu.Lock()
	r.Daemon.Started = l.started
	l.mu.Unlock()
	r.LastPoll = time.Now().Add(-3 * time.Second)
	for i := range r.Inboxes {
		ok := true
		r.Inboxes[i].Healthy = &ok
	}
	return r, err
}

func (l *fakeLive) Retry(_ context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retried = append(l.retried, req.Paths)
	return control.RetryAnswer{Retried: req.Paths}, nil
}

func (l *fakeLive) PlanReprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	return control.ReprocessAnswer{Files: paths}, nil
}

func (l *fakeLive) Reprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reprocess = append(l.reprocess, paths)
	return control.ReprocessAnswer{Files: paths, Reprocessed: paths}, nil
}

func (l *fakeLive) WebhookTest(context.Context) (control.WebhookTestAnswer, error) {
	return control.WebhookTestAnswer{}, control.ErrNotRunning
}

func (l *fakeLive) RebuildLedgers(context.Context) (control.RebuildAnswer, error) {
	return control.RebuildAnswer{}, control.ErrNotRunning
}

func (l *fakeLive) calls() (retried, reprocessed [][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.retried...), append([][]string(nil), l.reprocess...)
}

func newFixture(t testing.TB) *fixture {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{}
	var paths []string
	for _, name := range []string{"invoices", "receipts"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.Inboxes = append(cfg.Inboxes, config.Inbox{Path: p, ParserID: "prs_" + name})
		paths = append(paths, p)
	}
	live := &fakeLive{st: st, cfg: cfg}
	f := &fixture{st: st, cfg: cfg, reader: store.NewFiles(st, cfg.Inboxes), live: live, inboxes: paths}
	f.act = activity.New(nil)
	if tt, ok := t.(*testing.T); ok {
		f.t = tt
	}
	return f
}

// server serves the page over the fixture with o's upload settings.
func (f *fixture) server(tb testing.TB, o Options) *httptest.Server {
	o.Reader, o.Live, o.Activity = f.reader, f.live, f.act
	if o.Inboxes == nil {
		o.Inboxes = f.cfg.Inboxes
	}
	srv := httptest.NewServer(Protect(New(o), Security{Listen: "127.0.0.1:0", NoAuth: true}))
	tb.Cleanup(srv.Close)
	return srv
}

var sampleDoc = json.RawMessage(`{"document_id":"doc_1","filename":"x.pdf","status":"completed","page_count":2,"confidence":0.97,
"extracted_data":{"vendor_name":"Acme Corp","invoice_number":"INV-2026-001","total_amount":1250.75,
"line_items":[{"description":"Cloud Servers","amount":1000},{"description":"Support Tier 1","amount":250.75}]}}`)

// add records a file in inbox i in the given file state ("queued" files
// get a queued document; "submitted" files a submitted one).
func (f *fixture) add(tb testing.TB, i int, name, st string, pages int, at time.Time) string {
	tb.Helper()
	path := filepath.Join(f.inboxes[i], name)
	sha := fmt.Sprintf("%x", sha256.Sum256([]byte(path))) // distinct content per file
	parser := f.cfg.Inboxes[i].ParserID
	rec := state.File{Path: path, Inbox: f.inboxes[i], ParserID: parser, Size: int64(pages) * 1000, ModTime: at.UnixNano(),
		SHA256: sha, Pages: pages, State: state.FileState(st), FirstSeen: at.Add(-time.Minute), Updated: at}
	doc := state.Doc{Key: state.DocKey(parser, sha), ParserID: parser, SHA256: sha, Pages: pages, Files: []string{path}, Updated: at}
	switch state.FileState(st) {
	case "queued":
		rec.State, doc.State = state.FileQueued, state.DocQueued
	case "submitted":
		rec.State, doc.State = state.FileQueued, state.DocSubmitted
		doc.Batch, doc.ExtractionID, doc.DocumentID, doc.SubmittedAt = "idem-"+sha[:8], "ext_1", "doc_1", at
	case state.FileDone:
		// As in a real state: the result is in the result file, not in
		// the document record.
		doc.State = state.DocDone
		doc.Batch, doc.ExtractionID, doc.DocumentID, doc.SubmittedAt = "idem-"+sha[:8], "ext_1", "doc_1", at.Add(-30*time.Second)
		rec.Result = path + ".json"
		b, err := json.Marshal(results.Result{Document: sampleDoc, Source: results.Source{Path: path, SHA256: sha, Size: rec.Size}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(rec.Result, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	case state.FileFailed:
		doc.State, doc.Code, doc.Message = state.DocFailed, "EXTRACTION_FAILED", "unreadable scan"
		rec.Code, rec.Reason, rec.Result = "EXTRACTION_FAILED", "unreadable scan", path+".error.json"
	case state.FileInvalid:
		rec.SHA256, rec.Pages = "", 0
		rec.Code, rec.Reason, rec.Result = "NOT_A_PDF", "the file does not start with %PDF-", path+".error.json"
	}
	err := f.st.Update(func(tx *state.Tx) error {
		if rec.SHA256 != "" {
			if err := tx.SeedDoc(doc); err != nil {
				return err
			}
		}
		return tx.SeedFile(rec)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}
