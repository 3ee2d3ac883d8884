// Package control is what can be asked of a ppsync installation, whether
// its daemon runs or not: its status, sending failed files through again,
// processing finished files again (and what that costs), a webhook test,
// rebuilding the ledgers, and the read side of the status page (the file
// list, a file's life, its result, the cost of an action).
//
// It has three implementations: the running daemon's own (package
// daemon), the offline one over the state file when no daemon runs
// (package control/offline, reading through control/store), and the
// admin endpoint's client (package admin), which asks a running daemon
// the same questions over HTTP. The admin endpoint serves a Control; the
// CLI asks the client when the daemon answers and the offline one
// otherwise; the status page reads through the interface only.
//
// This package knows nothing of the state store: it holds the interface
// and the request and answer types they all share.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ppsync/ppsync/internal/report"
)

// Control is what the CLI, the admin endpoint and the status page ask of
// an installation.
type Control interface {
	// Status is the report of `ppsync status --json`.
	Status(ctx context.Context) (report.Report, error)
	// Retry sends failed or refused files through again.
	Retry(ctx context.Context, req RetryRequest) (RetryAnswer, error)
	// PlanReprocess says what processing paths again sends and costs;
	// nothing changes.
	PlanReprocess(ctx context.Context, paths []string) (ReprocessAnswer, error)
	// Reprocess processes the finished files among paths again (each under
	// a new idempotency key: charged again): the plan, with Reprocessed
	// the paths marked.
	Reprocess(ctx context.Context, paths []string) (ReprocessAnswer, error)
	// WebhookTest asks for a test delivery and waits for it. A delivery
	// that fails is an answer with OK false, not an error.
	WebhookTest(ctx context.Context) (WebhookTestAnswer, error)
	// RebuildLedgers regenerates every inbox's ledger from its result
	// files. An inbox that fails leaves its old ledger; the others are
	// still rebuilt, and the error names each that failed.
	RebuildLedgers(ctx context.Context) (RebuildAnswer, error)
}

// Files is the read side of the status page: what the state knows of each
// tracked file.
type Files interface {
	Files(ctx context.Context, q Query) (Page, error)
	File(ctx context.Context, path string) (FileDetail, error)
	// Result is the content of the file's result or error file.
	Result(ctx context.Context, path string) ([]byte, error)
	// Estimate says what sending paths through again would cost.
	Estimate(ctx context.Context, paths []string) (Estimate, error)
	Inboxes() []InboxInfo
	// Locate says where the tracked file path is on disk: in its inbox, or
	// where after = "move" took it. An untracked path gives ErrNotFound.
	Locate(ctx context.Context, path string) (Location, error)
}

// Location is where a tracked file is on disk, as the state records it.
type Location struct {
	Path  string `json:"path"`
	Inbox string `json:"inbox"`
	// MovedTo is where after = "move" took the file ("" when it was not
	// moved).
	MovedTo string `json:"moved_to,omitempty"`
}

// ErrNotFound means no file with that path is tracked.
var ErrNotFound = errors.New("file not tracked")

// ErrNoState means the state file does not exist yet: ppsync has not run
// with this config, so nothing is tracked.
var ErrNoState = errors.New("the state does not exist yet")

// ErrNotRunning means the operation needs the running daemon.
var ErrNotRunning = errors.New("the operation needs the running daemon")

// RetryRequest is the body of POST /retry.
type RetryRequest struct {
	Paths  []string `json:"paths"`
	Failed bool     `json:"failed"`
}

// RetryAnswer is its answer.
type RetryAnswer struct {
	Retried []string `json:"retried"`
}

// ReprocessRequest is the body of POST /reprocess. Without Confirm only the
// plan (files and cost) is returned and nothing changes.
type ReprocessRequest struct {
	Paths   []string `json:"paths"`
	Confirm bool     `json:"confirm"`
}

// ReprocessAnswer is what processing files again sends and costs, and,
// once confirmed, what was marked.
type ReprocessAnswer struct {
	// Files are the tracked paths the request applies to.
	Files []string `json:"files"`
	// Pages is what sending Files costs (1 page = 1 credit).
	Pages int `json:"pages"`
	// Unknown counts files whose pages were never counted.
	Unknown int `json:"unknown"`
	// Skipped are the paths left out, with why.
	Skipped map[string]string `json:"skipped"`
	// Reprocessed are the paths marked (only with Confirm).
	Reprocessed []string `json:"reprocessed"`
}

// WebhookTestAnswer is the answer of POST /webhook/test.
type WebhookTestAnswer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// LedgerRebuilt is what rebuilding one inbox's ledger did.
type LedgerRebuilt struct {
	Inbox     string `json:"inbox"`
	Ledger    string `json:"ledger"`
	Documents int    `json:"documents"`
	// SchemaNote says why the parser's schema could not be read (the
	// columns then come from the documents' keys); "" when it was.
	SchemaNote string `json:"schema_note,omitempty"`
}

// RebuildAnswer is the answer of POST /ledger/rebuild.
type RebuildAnswer struct {
	Rebuilt []LedgerRebuilt `json:"rebuilt"`
	// Errors name each inbox whose ledger could not be rebuilt.
	Errors []string `json:"errors,omitempty"`
}

// Err joins Errors into one error (nil when there are none).
func (a RebuildAnswer) Err() error {
	errs := make([]error, 0, len(a.Errors))
	for _, e := range a.Errors {
		errs = append(errs, errors.New(e))
	}
	return errors.Join(errs...)
}

// Query selects a page of files.
type Query struct {
	// Search is a case-insensitive part of the path or of a field
	// extracted from the file (vendor, invoice number, amount, date).
	Search string
	Inbox  string // inbox path, "" for all
	State  string // a report state ("failed", "queued", ...), "" for all
	Sort   string // name, inbox, state, when, pages (a leading "-" reverses)
	Offset int
	Limit  int
}

// Row is one file in the list.
type Row struct {
	Path  string    `json:"path"`
	Name  string    `json:"name"`
	Inbox string    `json:"inbox"`
	State string    `json:"state"`
	When  time.Time `json:"when"`
	Pages int       `json:"pages"`
	// Cost is the credits the file's submission was charged (1 page = 1
	// credit); 0 when it was refused locally or never sent.
	Cost   int    `json:"cost"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Match is the extracted field a search found the file by, such as
	// "Vendor name: Acme Corp" ("" when its path matched).
	Match string `json:"match,omitempty"`
}

// Page is one page of the list.
type Page struct {
	Rows  []Row `json:"rows"`
	Total int   `json:"total"` // matching rows, all pages
	// Tracked is every file the state knows, before filtering.
	Tracked int `json:"tracked"`
}

// Event is one step of a file's life.
type Event struct {
	At     time.Time `json:"at,omitzero"`
	What   string    `json:"what"`
	Detail string    `json:"detail,omitempty"`
}

// FileDetail is one file's page.
type FileDetail struct {
	Row
	Size           int64   `json:"size"`
	SHA256         string  `json:"sha256,omitempty"`
	ParserID       string  `json:"parser_id"`
	IdempotencyKey string  `json:"idempotency_key,omitempty"`
	ExtractionID   string  `json:"extraction_id,omitempty"`
	DocumentID     string  `json:"document_id,omitempty"`
	Retries        int     `json:"retries,omitempty"`
	ResultPath     string  `json:"result_path,omitempty"`
	Life           []Event `json:"life"`
	// Document is the API's document object (fields in extracted_data),
	// read from the file's result file.
	Document json.RawMessage `json:"document,omitempty"`
	// ResultNote says why a finished file's data cannot be shown: its
	// result file is no longer on disk (the state keeps no copy of
	// results) or cannot be read; "" otherwise.
	ResultNote string `json:"result_note,omitempty"`
	// OriginalMissing tells that the file is no longer where the state saw
	// it (nor where after = "move" put it): the page shows no preview.
	OriginalMissing bool `json:"original_missing,omitempty"`
	// Fix explains a failure in plain words (filled in by the page).
	Fix *Fix `json:"fix,omitempty"`
}

// Fix explains a failure in plain words.
type Fix struct {
	Problem string `json:"problem"`
	Action  string `json:"action"`
	// Retry tells whether sending the same file again can help.
	Retry bool `json:"retry"`
}

// Estimate is what an action would send and cost.
type Estimate struct {
	Files []string `json:"files"` // the paths the action applies to
	Pages int      `json:"pages"` // credits it will cost (1 page = 1 credit)
	// Unknown counts files whose pages are not known yet (never counted).
	Unknown int `json:"unknown"`
}

// InboxInfo is an inbox, for filters and the upload target.
type InboxInfo struct {
	Path     string `json:"path"`
	ParserID string `json:"parser_id"`
	Name     string `json:"name"`
}

// AbsPaths makes the paths of a request absolute (the state keys files by
// absolute path), naming a path that cannot be.
func AbsPaths(paths []string) ([]string, error) {
	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		abs = append(abs, a)
	}
	return abs, nil
}
