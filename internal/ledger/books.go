package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/results"
)

// Parsers is what the ledgers need from the API client: the parser's
// schema, for the ledger's columns.
type Parsers interface {
	Parser(ctx context.Context, id string) (apitypes.Parser, error)
}

// Inbox is what a ledger needs to know of its inbox.
type Inbox struct {
	// Path is the inbox's root; Ledger its ledger file ("" for none).
	Path, Ledger string
	ParserID     string
	// ResultsDir, ProcessedDir and FailedDir are where its results and
	// finished files go; Move is set with after = "move".
	ResultsDir, ProcessedDir, FailedDir string
	Move                                bool
	Format                              Format
	// Held lists results held for review too (review_in_ledger).
	Held bool
}

// schemaRetry is how often a parser's schema is asked for again while the
// API does not answer (meanwhile the columns come from the documents'
// keys), and the results read again while they cannot be.
const schemaRetry = time.Minute

// Options are the ledger settings of inbox in; schema may be nil (the
// columns then come from the documents' keys).
func (in Inbox) Options(schema *apitypes.Parser, log *slog.Logger) Options {
	o := Options{Path: in.Ledger, InboxRoot: in.Path, Format: in.Format, Log: log, Held: in.Held}
	if schema != nil {
		o.Schema, o.Fields = schema.Schema, fieldNames(schema)
	}
	return o
}

// Roots are the folders that hold inbox in's result files: its
// results_dir, else the inbox, and processed_dir when finished files (and,
// without results_dir, their results) are moved there.
func (in Inbox) Roots() []string {
	if in.ResultsDir != "" {
		return []string{in.ResultsDir}
	}
	roots := []string{in.Path}
	if in.Move && in.ProcessedDir != "" {
		if _, err := os.Stat(in.ProcessedDir); err == nil { // created by the first move
			roots = append(roots, in.ProcessedDir)
		}
	}
	return roots
}

func fieldNames(p *apitypes.Parser) []string {
	names := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Books holds the ledger of every inbox that has one, by inbox path, while
// a daemon runs: every result puts its row, every error file removes the
// file's row (Written).
type Books struct {
	log    *slog.Logger
	api    Parsers
	byPath map[string]*book
}

type book struct {
	in Inbox
	l  *Ledger
	// warned* keep a failure that repeats every minute to one log line
	// (used by Run, then by close once Run's loop has returned).
	warnedRows, warnedSchema bool

	mu      sync.Mutex
	loaded  bool            // the rows on disk are in l
	pending []func(*Ledger) // changes that came before the rows on disk
}

// apply changes bk's ledger now, or once the rows on disk are read, so a
// ledger is never written with only this run's results.
func (bk *book) apply(change func(*Ledger)) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	if !bk.loaded {
		bk.pending = append(bk.pending, change)
		return
	}
	change(bk.l)
}

// NewBooks creates (without touching the disk) the ledger of every inbox
// that has one; api gives the parsers' schemas.
func NewBooks(inboxes []Inbox, api Parsers, log *slog.Logger) (*Books, error) {
	b := &Books{log: log.With("component", "ledger"), api: api, byPath: map[string]*book{}}
	for _, in := range inboxes {
		if in.Ledger == "" {
			continue
		}
		l, err := New(in.Options(nil, b.log))
		if err != nil {
			return nil, fmt.Errorf("inbox %s: %w", in.Path, err)
		}
		b.byPath[in.Path] = &book{in: in, l: l}
	}
	return b, nil
}

// Recover does nothing: the rows on disk are read by Run, so a results
// folder that cannot be read holds nothing up.
func (b *Books) Recover(context.Context) error { return nil }

// Run loads every ledger from the result files on disk and gives it its
// parser's schema. A ledger whose results cannot be read yet, or whose
// parser the API does not describe yet, is tried again every schemaRetry.
// Results written meanwhile are never held back: their rows are kept and go
// in once the rows on disk are read; the columns follow the schema once it
// is known. Once ctx ends, what is pending in every ledger is written (see
// close).
func (b *Books) Run(ctx context.Context) error {
	defer b.close()
	type todo struct {
		bk           *book
		rows, schema bool // still to do
	}
	var waiting []*todo
	for _, bk := range b.sorted() {
		waiting = append(waiting, &todo{bk: bk, rows: true, schema: true})
	}
	t := time.NewTicker(schemaRetry)
	defer t.Stop()
	for {
		for _, w := range waiting {
			if w.rows {
				w.rows = !b.load(ctx, w.bk)
			}
		}
		for _, w := range waiting {
			if w.schema {
				w.schema = !b.schema(ctx, w.bk)
			}
		}
		waiting = slices.DeleteFunc(waiting, func(w *todo) bool { return !w.rows && !w.schema })
		if len(waiting) == 0 {
			<-ctx.Done()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// load reads bk's rows from the result files on disk (once), then applies
// the changes that came meanwhile. It reports whether the rows are in.
func (b *Books) load(ctx context.Context, bk *book) bool {
	bk.mu.Lock()
	loaded := bk.loaded
	bk.mu.Unlock()
	if loaded {
		return true
	}
	if bk.in.ResultsDir != "" {
		if err := os.MkdirAll(bk.in.ResultsDir, 0o755); err != nil {
			b.log.Error("cannot create results_dir", "results_dir", bk.in.ResultsDir, "error", err)
		}
	}
	n, err := bk.l.Load(ctx, bk.in.Roots()...)
	if err != nil {
		if ctx.Err() == nil && !bk.warnedRows {
			bk.warnedRows = true
			b.log.Error("cannot read the results for the ledger; trying again every minute (the ledger file is left as it is until then)",
				"ledger", bk.l.Path(), "inbox", bk.in.Path, "error", err)
		}
		return false
	}
	bk.mu.Lock()
	bk.loaded = true
	for _, change := range bk.pending {
		change(bk.l)
	}
	bk.pending = nil
	bk.mu.Unlock()
	b.log.Info("ledger ready", "ledger", bk.l.Path(), "inbox", bk.in.Path, "documents", n)
	return true
}

// schema asks for bk's parser schema and sets it; it reports success.
func (b *Books) schema(ctx context.Context, bk *book) bool {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := b.api.Parser(c, bk.in.ParserID)
	if err != nil {
		if ctx.Err() == nil && !bk.warnedSchema {
			bk.warnedSchema = true
			b.log.Warn("cannot read the parser's schema for the ledger's columns; using the documents' own keys until the API answers",
				"ledger", bk.l.Path(), "parser_id", bk.in.ParserID, "error", err)
		}
		return false
	}
	bk.l.SetSchema(p.Schema, fieldNames(&p))
	if bk.warnedSchema {
		b.log.Info("the ledger has the parser's columns now", "ledger", bk.l.Path())
	}
	return true
}

func (b *Books) sorted() []*book {
	out := make([]*book, 0, len(b.byPath))
	for _, bk := range b.byPath {
		out = append(out, bk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].in.Path < out[j].in.Path })
	return out
}

// Written puts the row of a result file (document set), or removes the
// row of a file that got an error file, in its inbox's ledger: output is
// the result or error file written for source, a file of inbox.
func (b *Books) Written(inbox, source, output string, document bool) {
	bk, ok := b.byPath[inbox]
	if !ok {
		return
	}
	if document {
		own := results.Own{Roots: results.RootsOf(bk.in.Path, bk.in.ResultsDir, bk.in.ProcessedDir, bk.in.FailedDir), Log: b.log}
		out, err := own.Read(output, source)
		data := out.Data
		if err != nil {
			b.log.Warn("cannot read a result back for the ledger; it is listed at the next start", "file", source, "result", output, "error", err)
			return
		}
		bk.apply(func(l *Ledger) {
			if !l.PutResult(data) {
				l.Remove(source) // a failed document: no row
			}
		})
		return
	}
	bk.apply(func(l *Ledger) { l.Remove(source) })
}

// close writes what is pending in every ledger. A ledger whose rows were
// not read from disk yet (a short run) reads them first, so it is never
// written with only this run's results.
func (b *Books) close() {
	for _, bk := range b.sorted() {
		if !b.load(context.Background(), bk) {
			continue // the old ledger stays; the next start reads the results again
		}
		if err := bk.l.Close(); err != nil {
			b.log.Error("ledger not written at shutdown; it is rebuilt from the results at the next start", "ledger", bk.l.Path(), "error", err)
		}
	}
}

// Rebuilt is what RebuildAll did for one inbox.
type Rebuilt struct {
	Inbox, Ledger string
	Documents     int
	// SchemaErr is why the parser's schema could not be read (the columns
	// then come from the documents' keys); nil when it was.
	SchemaErr error
}

// RebuildAll regenerates the ledger of every inbox that has one from its
// result files. api may be nil (no key): the columns then come from the
// documents' keys. An unreadable results folder is an error for that inbox
// and leaves its old ledger in place; the others are still rebuilt.
func RebuildAll(ctx context.Context, inboxes []Inbox, api Parsers, log *slog.Logger) ([]Rebuilt, error) {
	var out []Rebuilt
	var errs []error
	for _, in := range inboxes {
		if in.Ledger == "" {
			continue
		}
		r := Rebuilt{Inbox: in.Path, Ledger: in.Ledger, SchemaErr: errors.New("no API key: the columns come from the documents' keys")}
		var schema *apitypes.Parser
		if api != nil {
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			p, err := api.Parser(c, in.ParserID)
			cancel()
			if r.SchemaErr = err; err == nil {
				schema = &p
			}
		}
		n, err := Rebuild(ctx, in.Options(schema, log), in.Roots()...)
		if err != nil {
			errs = append(errs, fmt.Errorf("ledger %s of inbox %s: %w (the old ledger is left as it was)", in.Ledger, in.Path, err))
			continue
		}
		r.Documents = n
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
