package daemon

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
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/results"
)

// Parsers is what the ledgers need from the API client: the parser's
// schema, for the ledger's columns.
type Parsers interface {
	Parser(ctx context.Context, id string) (apitypes.Parser, error)
}

// schemaRetry is how often a parser's schema is asked for again while the
// API does not answer (meanwhile the columns come from the documents'
// keys), and the results read again while they cannot be.
const schemaRetry = time.Minute

// books holds the ledger of every inbox that has one, by inbox path. It is
// the finish stage's sink for them: every result puts its row, every error
// file removes the file's row.
type books struct {
	log    *slog.Logger
	byPath map[string]*book
}

type book struct {
	in config.Inbox
	l  *ledger.Ledger
	// warned* keep a failure that repeats every minute to one log line
	// (used by run, then by close once run has returned).
	warnedRows, warnedSchema bool

	mu      sync.Mutex
	loaded  bool                   // the rows on disk are in l
	pending []func(*ledger.Ledger) // changes that came before the rows on disk
}

// apply changes bk's ledger now, or once the rows on disk are read, so a
// ledger is never written with only this run's results.
func (bk *book) apply(change func(*ledger.Ledger)) {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	if !bk.loaded {
		bk.pending = append(bk.pending, change)
		return
	}
	change(bk.l)
}

// LedgerOptions are the ledger settings of inbox in; schema may be nil
// (the columns then come from the documents' keys).
func LedgerOptions(in config.Inbox, schema *apitypes.Parser, log *slog.Logger) ledger.Options {
	sep, dec := in.LedgerFormat()
	o := ledger.Options{Path: in.Ledger, InboxRoot: in.Path, Format: ledger.Format{Separator: sep, Decimal: dec}, Log: log, Held: in.ReviewInLedger}
	if schema != nil {
		o.Schema, o.Fields = schema.Schema, fieldNames(schema)
	}
	return o
}

// LedgerRoots are the folders that hold inbox in's result files: its
// results_dir, else the inbox, and processed_dir when finished files (and,
// without results_dir, their results) are moved there.
func LedgerRoots(in config.Inbox) []string {
	if in.ResultsDir != "" {
		return []string{in.ResultsDir}
	}
	roots := []string{in.Path}
	if in.After == "move" && in.ProcessedDir != "" {
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

// newBooks creates (without touching the disk) the ledger of every inbox
// that has one.
func newBooks(cfg *config.Config, log *slog.Logger) (*books, error) {
	b := &books{log: log.With("component", "ledger"), byPath: map[string]*book{}}
	for _, in := range cfg.Inboxes {
		if in.Ledger == "" {
			continue
		}
		l, err := ledger.New(LedgerOptions(in, nil, b.log))
		if err != nil {
			return nil, fmt.Errorf("%s: inbox %s: %w", cfg.File, in.Path, err)
		}
		b.byPath[in.Path] = &book{in: in, l: l}
	}
	return b, nil
}

// run loads every ledger from the result files on disk and gives it its
// parser's schema. A ledger whose results cannot be read yet, or whose
// parser the API does not describe yet, is tried again every schemaRetry.
// Results written meanwhile are never held back: their rows are kept and go
// in once the rows on disk are read; the columns follow the schema once it
// is known.
func (b *books) run(ctx context.Context, api Parsers) {
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
				w.schema = !b.schema(ctx, api, w.bk)
			}
		}
		waiting = slices.DeleteFunc(waiting, func(w *todo) bool { return !w.rows && !w.schema })
		if len(waiting) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// load reads bk's rows from the result files on disk (once), then applies
// the changes that came meanwhile. It reports whether the rows are in.
func (b *books) load(ctx context.Context, bk *book) bool {
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
	n, err := bk.l.Load(ctx, LedgerRoots(bk.in)...)
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
func (b *books) schema(ctx context.Context, api Parsers, bk *book) bool {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := api.Parser(c, bk.in.ParserID)
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

func (b *books) sorted() []*book {
	out := make([]*book, 0, len(b.byPath))
	for _, bk := range b.byPath {
		out = append(out, bk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].in.Path < out[j].in.Path })
	return out
}

// Written puts the row of a result file, or removes the row of a file that
// got an error file, in its inbox's ledger.
func (b *books) Written(_ context.Context, w finish.Written) {
	bk, ok := b.byPath[w.Inbox]
	if !ok {
		return
	}
	if w.Document != nil {
		own := results.Own{Roots: results.RootsOf(bk.in.Path, bk.in.ResultsDir, bk.in.ProcessedDir, bk.in.FailedDir), Log: b.log}
		out, err := own.Read(w.Output, w.File.Path)
		data := out.Data
		if err != nil {
			b.log.Warn("cannot read a result back for the ledger; it is listed at the next start", "file", w.File.Path, "result", w.Output, "error", err)
			return
		}
		bk.apply(func(l *ledger.Ledger) {
			if !l.PutResult(data) {
				l.Remove(w.File.Path) // a failed document: no row
			}
		})
		return
	}
	bk.apply(func(l *ledger.Ledger) { l.Remove(w.File.Path) })
}

// close writes what is pending in every ledger. A ledger whose rows were
// not read from disk yet (a short run) reads them first, so it is never
// written with only this run's results.
func (b *books) close() {
	for _, bk := range b.sorted() {
		if !b.load(context.Background(), bk) {
			continue // the old ledger stays; the next start reads the results again
		}
		if err := bk.l.Close(); err != nil {
			b.log.Error("ledger not written at shutdown; it is rebuilt from the results at the next start", "ledger", bk.l.Path(), "error", err)
		}
	}
}

// sinks tells each sink in turn.
type sinks []finish.Sink

func (s sinks) Written(ctx context.Context, w finish.Written) {
	for _, k := range s {
		if k != nil {
			k.Written(ctx, w)
		}
	}
}

// LedgerRebuilt is what RebuildLedgers did for one inbox.
type LedgerRebuilt struct {
	Inbox, Ledger string
	Documents     int
	// SchemaErr is why the parser's schema could not be read (the columns
	// then come from the documents' keys); nil when it was.
	SchemaErr error
}

// RebuildLedgers regenerates the ledger of every inbox that has one from
// its result files. api may be nil (no key): the columns then come from the
// documents' keys. An unreadable results folder is an error for that inbox
// and leaves its old ledger in place; the others are still rebuilt.
func RebuildLedgers(ctx context.Context, cfg *config.Config, api Parsers, log *slog.Logger) ([]LedgerRebuilt, error) {
	var out []LedgerRebuilt
	var errs []error
	for _, in := range cfg.Inboxes {
		if in.Ledger == "" {
			continue
		}
		r := LedgerRebuilt{Inbox: in.Path, Ledger: in.Ledger, SchemaErr: errors.New("no API key: the columns come from the documents' keys")}
		var schema *apitypes.Parser
		if api != nil {
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			p, err := api.Parser(c, in.ParserID)
			cancel()
			if r.SchemaErr = err; err == nil {
				schema = &p
			}
		}
		n, err := ledger.Rebuild(ctx, LedgerOptions(in, schema, log), LedgerRoots(in)...)
		if err != nil {
			errs = append(errs, fmt.Errorf("ledger %s of inbox %s: %w (the old ledger is left as it was)", in.Ledger, in.Path, err))
			continue
		}
		r.Documents = n
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
