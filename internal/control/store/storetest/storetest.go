// Package storetest records files in a state store the way the tests of
// the status page and of the store need them. It is for tests only: it
// writes records with the state's test-only writers.
package storetest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// SampleDoc is a completed document of an invoice from Acme Corp, the
// result every "done" file of AddFile gets.
var SampleDoc = json.RawMessage(`{"document_id":"doc_1","filename":"x.pdf","status":"completed","page_count":2,"confidence":0.97,
"extracted_data":{"vendor_name":"Acme Corp","invoice_number":"INV-2026-001","total_amount":1250.75,
"line_items":[{"description":"Cloud Servers","amount":1000},{"description":"Support Tier 1","amount":250.75}]}}`)

// Open creates, below a temporary folder of tb, a state file and two inbox
// folders, "invoices" and "receipts" (parsers prs_invoices and
// prs_receipts), and returns the open state (closed when tb ends), a
// configuration naming them, and the inboxes' folders.
func Open(tb testing.TB) (*state.Store, *config.Config, []string) {
	tb.Helper()
	dir := tb.TempDir()
	cfg := &config.Config{State: config.State{Path: filepath.Join(dir, "state.db")}}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var paths []string
	for _, name := range []string{"invoices", "receipts"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			tb.Fatal(err)
		}
		cfg.Inboxes = append(cfg.Inboxes, config.Inbox{Path: p, ParserID: "prs_" + name})
		paths = append(paths, p)
	}
	return st, cfg, paths
}

// AddFile records the file name of inbox (its folder) in s, in the given
// file state: "queued" files get a queued document, "submitted" files a
// submitted one, "done" files a result file with SampleDoc, "failed" and
// "invalid" ones an error code. It returns the file's path.
func AddFile(tb testing.TB, s *state.Store, inbox, parser, name, st string, pages int, at time.Time) string {
	tb.Helper()
	path := filepath.Join(inbox, name)
	sha := fmt.Sprintf("%x", sha256.Sum256([]byte(path))) // distinct content per file
	rec := state.File{Path: path, Inbox: inbox, ParserID: parser, Size: int64(pages) * 1000, ModTime: at.UnixNano(),
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
		b, err := json.Marshal(results.Result{Document: SampleDoc, Source: results.Source{Path: path, SHA256: sha, Size: rec.Size}})
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
	err := s.Update(func(tx *state.Tx) error {
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
