// Package ledger keeps one spreadsheet per inbox (CSV or .xlsx) with one
// row per processed document: the parser's fields, flattened, plus the
// file, folder, sha256, document id, pages, credits and when.
//
// The result files are the source of truth. The ledger holds a row per
// result file in memory and rewrites the whole spreadsheet atomically (temp
// file, fsync, rename) a short while after the last change, so a crash
// leaves the previous complete ledger, never a torn or duplicated row. At
// start-up Load reads the result files again, which also brings in every
// result written after the last ledger write before a crash.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

// Options configure a ledger.
type Options struct {
	// Path is the ledger file; its extension (.csv or .xlsx) picks the format.
	Path string
	// InboxRoot is the inbox the documents come from (for the folder column).
	InboxRoot string
	// Schema is the parser's JSON Schema (GET /v1/parsers/:id "schema");
	// its properties are the data columns, in order.
	Schema json.RawMessage
	// Fields are the parser's field names ("fields" keys), the columns when
	// the schema lists no properties.
	Fields []string
	// Format is the CSV separator and decimal mark.
	Format Format
	// Delay is how long after a change the file is rewritten, so a batch of
	// results costs one write [2s]. A write never comes sooner than twice the
	// time the previous one took, so a large ledger is not rewritten nonstop.
	Delay time.Duration
	// Log reports writes that failed (and are retried) [slog.Default()].
	Log *slog.Logger
	// Held lists results held for review (<file>.review.json), marked
	// "to review" in a review column (review_in_ledger).
	Held bool
}

// Ledger is one inbox's spreadsheet. Its methods are safe for concurrent use.
type Ledger struct {
	o   Options
	xls bool

	mu      sync.Mutex
	rows    map[string]Row // by source path
	touched map[string]bool
	gen     uint64 // changes so far
	written uint64 // gen of the last successful write
	timer   *time.Timer
	closed  bool
	lastDur time.Duration
	failing bool

	writeMu      sync.Mutex
	beforeRename func() error  // test hook: between temp fsync and rename
	failedRetry  time.Duration // wait after a failed write [time.Minute]; tests shorten it
}

// New checks the options and returns an empty ledger; call Load next.
func New(o Options) (*Ledger, error) {
	if o.Path == "" {
		return nil, errors.New("ledger: no path")
	}
	ext := strings.ToLower(filepath.Ext(o.Path))
	if ext != ".csv" && ext != ".xlsx" {
		return nil, fmt.Errorf("ledger %s: the name must end in .csv or .xlsx", o.Path)
	}
	o.Format = o.Format.withDefaults()
	if err := o.Format.Validate(); err != nil {
		return nil, fmt.Errorf("ledger %s: %w", o.Path, err)
	}
	if o.Delay <= 0 {
		o.Delay = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Ledger{o: o, xls: ext == ".xlsx", rows: map[string]Row{}, touched: map[string]bool{}, failedRetry: time.Minute}, nil
}

// Path is the ledger file.
func (l *Ledger) Path() string { return l.o.Path }

// Load reads every result file under roots (the inbox, or its results_dir,
// and processed_dir when files are moved) and adds their rows, then writes
// the ledger. Rows already set by Put or Remove since New win over what is
// found on disk. Call it once at start-up, before results are written.
func (l *Ledger) Load(ctx context.Context, roots ...string) (int, error) {
	found, err := scan(ctx, l.o.InboxRoot, roots, l.o.Log, l.o.Held)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	for src, r := range found {
		if !l.touched[src] {
			l.rows[src] = r
		}
	}
	l.gen++
	l.mu.Unlock()
	if err := l.Flush(); err != nil {
		return len(found), err
	}
	return len(found), nil
}

// scan reads the result files under roots. A file that is not a result is
// skipped, and so is one ppsync did not write (a link, a hard link, a file
// not named after the source it records: results.Own); an unreadable root
// is an error (an unreachable share must not look like "no documents").
func scan(ctx context.Context, inboxRoot string, roots []string, log *slog.Logger, held bool) (map[string]Row, error) {
	found := map[string]Row{}
	own := results.Own{Roots: results.RootsOf(roots...), Log: log}
	for _, root := range roots {
		if root == "" {
			continue
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				return nil // a folder that vanished or is unreadable: the rest still counts
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			name := strings.ToLower(d.Name())
			if d.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".error.json") {
				return nil
			}
			out, err := own.Read(p, "")
			if err != nil || out.Result == nil && !(held && out.Review != nil) {
				return nil
			}
			r, ok := RowFromResult(out.Data, inboxRoot)
			if !ok {
				return nil
			}
			if cur, dup := found[r.Source]; !dup || r.When.After(cur.When) {
				found[r.Source] = r
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read results under %s: %w", root, err)
		}
	}
	return found, nil
}

// SetSchema sets the parser's schema and field names (the columns) when
// they were not known at New, and schedules a rewrite in the new columns.
func (l *Ledger) SetSchema(schema json.RawMessage, fields []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.o.Schema, l.o.Fields = schema, fields
	l.changed()
}

// Put records the row of a file that got a result (replacing the file's
// earlier row, if any) and schedules a rewrite.
func (l *Ledger) Put(r Row) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows[r.Source] = r
	l.touched[r.Source] = true
	l.changed()
}

// PutResult reads a result file's content (as written for source) into a
// row and records it. It reports false when the content is not the result
// of a completed document (nothing changes then).
func (l *Ledger) PutResult(result []byte) bool {
	r, ok := RowFromResult(result, l.o.InboxRoot)
	if ok {
		l.Put(r)
	}
	return ok
}

// Remove drops the row of a file whose result is gone (it failed on a later
// run, or was deleted) and schedules a rewrite.
func (l *Ledger) Remove(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.touched[source] = true
	if _, ok := l.rows[source]; !ok {
		return
	}
	delete(l.rows, source)
	l.changed()
}

// changed notes a change and arms the write timer. l.mu is held.
func (l *Ledger) changed() {
	l.gen++
	if l.timer == nil && !l.closed {
		l.timer = time.AfterFunc(l.delay(), l.flushLater)
	}
}

// delay is the wait before the next write: Delay, at least twice the last
// write's duration, and up to a minute while writes keep failing.
func (l *Ledger) delay() time.Duration {
	d := max(l.o.Delay, 2*l.lastDur)
	if l.failing {
		d = max(d, l.failedRetry)
	}
	return d
}

func (l *Ledger) flushLater() {
	l.mu.Lock()
	l.timer = nil
	l.mu.Unlock()
	if err := l.Flush(); err != nil {
		l.mu.Lock()
		first := !l.failing
		l.failing = true
		if l.timer == nil && !l.closed {
			l.timer = time.AfterFunc(l.delay(), l.flushLater)
		}
		l.mu.Unlock()
		if first {
			l.o.Log.Error("ledger not updated; retrying every minute", "ledger", l.o.Path, "err", err)
		}
	}
}

// Flush writes the ledger now if anything changed since the last write.
func (l *Ledger) Flush() error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	gen := l.gen
	if gen == l.written && gen != 0 {
		l.mu.Unlock()
		return nil
	}
	rows := make([]Row, 0, len(l.rows))
	for _, r := range l.rows {
		rows = append(rows, r)
	}
	l.mu.Unlock()

	start := time.Now()
	err := l.write(rows)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastDur = time.Since(start)
	if err != nil {
		return err
	}
	if l.failing {
		l.o.Log.Info("ledger written again", "ledger", l.o.Path)
	}
	l.failing = false
	l.written = gen
	return nil
}

func (l *Ledger) write(rows []Row) error {
	l.mu.Lock()
	schema, fields := l.o.Schema, l.o.Fields
	l.mu.Unlock()
	t := build(rows, schema, fields, l.o.Format.Decimal)
	if err := os.MkdirAll(filepath.Dir(l.o.Path), 0o755); err != nil {
		return fmt.Errorf("write ledger %s: %w", l.o.Path, err)
	}
	fill := func(w io.Writer) error { return writeCSV(w, t, l.o.Format) }
	if l.xls {
		fill = func(w io.Writer) error { return writeXLSX(w, t) }
	}
	return writeAtomic(l.o.Path, fill, l.beforeRename)
}

// Close stops the timer and writes what is pending.
func (l *Ledger) Close() error {
	l.mu.Lock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	return l.Flush()
}

// Rebuild regenerates the ledger at o.Path from the result files under roots
// and returns how many documents it holds.
func Rebuild(ctx context.Context, o Options, roots ...string) (int, error) {
	l, err := New(o)
	if err != nil {
		return 0, err
	}
	if _, err := l.Load(ctx, roots...); err != nil {
		return 0, err
	}
	return l.Documents(), l.Close()
}

// Documents is how many rows the ledger has (one per document).
func (l *Ledger) Documents() int {
	l.mu.Lock()
	rows := make([]Row, 0, len(l.rows))
	for _, r := range l.rows {
		rows = append(rows, r)
	}
	l.mu.Unlock()
	return len(build(rows, nil, nil, '.').rows)
}
