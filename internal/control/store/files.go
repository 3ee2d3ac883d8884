// Package store reads ppsync's state store for the control operations:
// the status counted from the state (Report), the status page's file list,
// file pages and results (Files), and the retry and reprocess marks (Retry,
// PlanReprocess, Reprocess).
// The running daemon and the offline implementation both read through it.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// row is a row of the list with its sort key (its lower-case name).
type row struct {
	control.Row
	key string
}

// Files is control.Files over the state store: the status page's view of
// the files of the configured inboxes.
type Files struct {
	st      *state.Store
	inboxes []control.InboxInfo
	// own reads result and error files back, below the inboxes' output
	// folders only, and only files ppsync wrote.
	own results.Own
	// index holds the extracted fields of finished files, for searches.
	index   fieldIndex
	warming atomic.Bool // a goroutine fills index

	mu   sync.Mutex
	last struct { // the last answer of Files
		q       control.Query
		version uint64
		page    control.Page // its Rows are never nil once an answer is kept
		at      time.Time
		took    time.Duration // the walk that made it
	}
}

// Forget drops the last answer of Files: the next call walks the state
// whatever its age (tests and benchmarks measure the walk with it).
func (s *Files) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last.page.Rows = nil
}

// reuseFactor bounds the share of time the file list's walks take while the
// state changes (see Files).
const reuseFactor = 9

var _ control.Files = (*Files)(nil)

// NewFiles reads st for the inboxes.
func NewFiles(st *state.Store, inboxes []config.Inbox) *Files {
	s := &Files{st: st}
	for _, in := range inboxes {
		s.inboxes = append(s.inboxes, control.InboxInfo{Path: in.Path, ParserID: in.ParserID, Name: filepath.Base(in.Path)})
		s.own.Roots = append(s.own.Roots, results.RootsOf(in.Path, in.ResultsDir, in.ProcessedDir, in.FailedDir)...)
	}
	return s
}

// WithLog makes s log the result files it refuses to read back (a link, a
// hard link, a file ppsync did not write) there; it returns s.
func (s *Files) WithLog(log *slog.Logger) *Files {
	s.own.Log = log
	return s
}

// Indexed is how many finished files' fields the search index holds.
func (s *Files) Indexed() int { return s.index.size() }

// Warming tells whether the search index is being filled in the background.
func (s *Files) Warming() bool { return s.warming.Load() }

// Inboxes lists the configured inboxes.
func (s *Files) Inboxes() []control.InboxInfo { return slices.Clone(s.inboxes) }

func (s *Files) known(inbox string) bool {
	return slices.ContainsFunc(s.inboxes, func(i control.InboxInfo) bool { return i.Path == inbox })
}

// stateOf maps a record to the state the report counts it under (queued
// files waiting for credits are counted as queued here: only the live
// report knows about credits).
func stateOf(tx *state.Tx, f state.File) string {
	if s, final := finalState(f.State); final {
		return s
	}
	if tx.OpenDocState(f) == state.DocQueued {
		return report.Queued
	}
	return report.InFlight
}

func cost(f state.File) int {
	switch f.State {
	case state.FileInvalid, state.FileGone:
		return 0
	}
	return f.Pages
}

func rowOf(f state.File, st string) row {
	return row{Row: control.Row{Path: f.Path, Name: filepath.Base(f.Path), Inbox: f.Inbox, State: st, When: f.Updated,
		Pages: f.Pages, Cost: cost(f), Code: f.Code, Reason: f.Reason}, key: strings.ToLower(filepath.Base(f.Path))}
}

// Files returns one page of files matching q, sorted. It walks the state
// once and keeps only the rows up to the end of the page asked for (see
// pageOf), never a row for every tracked file: with a million records a
// request costs a walk, not a million rows in memory.
//
// The last answer is kept: it is given again for the same query while the
// state does not change, and while the state changes, until it is older
// than reuseFactor times the walk it took. The page asks every second; a
// walk of 100,000 records takes most of a second of CPU, so on a busy
// daemon the list then refreshes every few seconds and takes at most about
// a tenth of a core, instead of all of one.
func (s *Files) Files(ctx context.Context, q control.Query) (control.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	search := strings.ToLower(strings.TrimSpace(q.Search))
	var p control.Page
	var unindexed []state.File // finished files whose fields the index lacks
	walk := func(tx *state.Tx) error {
		if s.last.page.Rows != nil && s.last.q == q && (tx.Version() == s.last.version || time.Since(s.last.at) < reuseFactor*s.last.took) {
			p = s.last.page
			return nil
		}
		start := time.Now()
		sel := pageOf(q.Offset, q.Limit, rowOrder(q.Sort))
		p = control.Page{}
		unindexed = unindexed[:0]
		n := 0
		err := tx.Files(func(f state.File) error {
			if !s.known(f.Inbox) {
				return nil
			}
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			p.Tracked++
			if q.Inbox != "" && f.Inbox != q.Inbox {
				return nil
			}
			var e indexed
			current := true
			if indexable(f) {
				e, current = s.index.lookup(f)
				if !current {
					unindexed = append(unindexed, f)
				}
			}
			match := ""
			if search != "" && !strings.Contains(strings.ToLower(f.Path), search) {
				if match = e.match(search); match == "" {
					return nil
				}
			}
			st := stateOf(tx, f)
			if q.State != "" && st != q.State && !(q.State == report.WaitingCredits && st == report.Queued) {
				return nil
			}
			p.Total++
			r := rowOf(f, st)
			r.Match = match
			sel.offer(r)
			return nil
		})
		if err != nil {
			return err
		}
		p.Rows = sel.rows()
		if search == "" || len(unindexed) == 0 {
			s.last.q, s.last.version, s.last.page = q, tx.Version(), p
			s.last.at, s.last.took = time.Now(), time.Since(start)
		}
		return nil
	}
	err := s.st.View(walk)
	switch {
	case err != nil:
	case search != "" && len(unindexed) > 0:
		// A search must see every file's fields: read the missing ones
		// (outside the state's transaction), then walk again.
		s.fill(unindexed)
		err = s.st.View(walk)
	case len(unindexed) > 0:
		s.warm(unindexed)
	}
	if err != nil {
		return control.Page{}, fmt.Errorf("list files in %s: %w", s.st.Path(), err)
	}
	return p, nil
}

// rowOrder is the list's order for a sort parameter: by the field named
// (a leading "-" reverses), then by name and path, so every two rows
// compare unequal.
func rowOrder(by string) func(a, b row) int {
	desc := strings.HasPrefix(by, "-")
	by = strings.TrimPrefix(by, "-")
	var f func(a, b row) int
	switch by {
	case "inbox":
		f = func(a, b row) int { return cmp.Compare(a.Inbox, b.Inbox) }
	case "state":
		f = func(a, b row) int { return cmp.Compare(a.State, b.State) }
	case "pages":
		f = func(a, b row) int { return cmp.Compare(a.Pages, b.Pages) }
	case "cost":
		f = func(a, b row) int { return cmp.Compare(a.Cost, b.Cost) }
	case "when":
		f = func(a, b row) int { return a.When.Compare(b.When) }
	default:
		f = func(a, b row) int { return 0 }
	}
	return func(a, b row) int {
		c := f(a, b)
		if c == 0 {
			c = cmp.Compare(a.key, b.key)
		}
		if c == 0 {
			c = cmp.Compare(a.Path, b.Path)
		}
		if desc {
			return -c
		}
		return c
	}
}

// File returns one file's life and data.
func (s *Files) File(ctx context.Context, path string) (control.FileDetail, error) {
	var fd control.FileDetail
	var rec state.File
	err := s.st.View(func(tx *state.Tx) error {
		f, err := s.tracked(tx, path)
		if err != nil {
			return err
		}
		st := stateOf(tx, f)
		rec = f
		fd = control.FileDetail{Row: rowOf(f, st).Row, Size: f.Size, SHA256: f.SHA256, ParserID: f.ParserID, ResultPath: f.Result}
		fd.Life = append(fd.Life, control.Event{At: f.FirstSeen, What: "seen", Detail: "found in the inbox"})
		if f.ModTime != 0 {
			fd.Life = append(fd.Life, control.Event{At: time.Unix(0, f.ModTime), What: "last modified", Detail: fmt.Sprintf("%d bytes", f.Size)})
		}
		if f.SHA256 != "" {
			fd.Life = append(fd.Life, control.Event{What: "settled and checked", Detail: pagesText(f.Pages) + ", sha256 " + f.SHA256[:min(12, len(f.SHA256))] + "…"})
			d, ok, err := tx.Doc(state.DocKey(f.ParserID, f.SHA256))
			if err != nil {
				return err
			}
			if ok {
				fd.IdempotencyKey, fd.ExtractionID, fd.DocumentID, fd.Retries = d.Batch, d.ExtractionID, d.DocumentID, d.Retries
				if !d.SubmittedAt.IsZero() || d.Batch != "" {
					fd.Life = append(fd.Life, control.Event{At: d.SubmittedAt, What: "submitted",
						Detail: join(labeled("idempotency key", d.Batch), labeled("job", d.ExtractionID), labeled("document", d.DocumentID))})
				} else if d.State == state.DocQueued {
					fd.Life = append(fd.Life, control.Event{At: d.Updated, What: "queued", Detail: "waiting to be sent"})
				}
			}
		}
		switch f.State {
		case state.FileDone:
			fd.Life = append(fd.Life, control.Event{At: f.Updated, What: "result written", Detail: f.Result})
		case state.FileFailed, state.FileInvalid:
			fd.Life = append(fd.Life, control.Event{At: f.Updated, What: st, Detail: join(f.Code, f.Reason)})
		case state.FileGone:
			fd.Life = append(fd.Life, control.Event{At: f.Updated, What: "deleted", Detail: "the file was removed before its result was written"})
		}
		return nil
	})
	if errors.Is(err, control.ErrNotFound) {
		return fd, fmt.Errorf("%s: %w", path, control.ErrNotFound)
	}
	if err != nil {
		return fd, fmt.Errorf("read %s from %s: %w", path, s.st.Path(), err)
	}
	fd.OriginalMissing = !onDisk(rec.Path) && (rec.MovedTo == "" || !onDisk(rec.MovedTo))
	if fd.ResultPath == "" {
		return fd, nil
	}
	b, at, err := s.outputOf(rec)
	switch {
	case err != nil && rec.State != state.FileDone:
	case errors.Is(err, os.ErrNotExist):
		fd.ResultNote = missingText(rec)
	case err != nil:
		fd.ResultNote = fmt.Sprintf("%v: check that the ppsync user may read it.", err)
	default:
		fd.ResultPath = at
		var r struct {
			Document json.RawMessage `json:"document"`
		}
		if json.Unmarshal(b, &r) == nil && len(r.Document) > 0 && string(r.Document) != "null" {
			fd.Document = r.Document
		}
	}
	return fd, nil
}

// outputOf reads f's own result (or error) file: where it was written, or
// where after = "move" took it with the file. Both paths come from the
// state's record, never from a request, and are read through s.own: a
// symlink, a hard link or anything else ppsync did not write there counts
// as missing. It returns the content and where it was found, or an error
// wrapping os.ErrNotExist when neither is there.
func (s *Files) outputOf(f state.File) ([]byte, string, error) {
	var at []string
	if f.MovedTo != "" {
		if m := results.MovedOutput(f.Path, f.Result, f.MovedTo); m != "" {
			at = append(at, m)
		}
	}
	if f.Result != "" {
		at = append(at, f.Result)
	}
	for _, p := range at {
		out, err := s.own.Read(p, f.Path)
		if err == nil {
			return out.Data, p, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, p, fmt.Errorf("read result file %s: %w", p, err)
		}
	}
	return nil, "", fmt.Errorf("result file of %s: %w", f.Path, os.ErrNotExist)
}

// missingText says that a finished file's result file is gone.
func missingText(f state.File) string {
	return fmt.Sprintf("The result file %s is no longer on disk, and ppsync keeps no copy of results in its state.", f.Result)
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}

func labeled(label, v string) string {
	if v == "" {
		return ""
	}
	return label + " " + v
}

func pagesText(n int) string {
	if n == 1 {
		return "1 page"
	}
	return fmt.Sprintf("%d pages", n)
}

// Result returns the file's result (or error) file: where it was written,
// or where after = "move" took it. The paths read are the ones the state
// recorded for the file, never one taken from the request.
func (s *Files) Result(ctx context.Context, path string) ([]byte, error) {
	var f state.File
	err := s.st.View(func(tx *state.Tx) error {
		var err error
		f, err = s.tracked(tx, path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("result of %s: %w", path, err)
	}
	if f.Result == "" {
		return nil, fmt.Errorf("result of %s: no result yet: %w", path, control.ErrNotFound)
	}
	b, _, err := s.outputOf(f)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("result of %s: %s: %w", path, missingText(f), control.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("result of %s: %w", path, err)
	}
	return b, nil
}

// control.Estimate returns the tracked files among paths and the pages they have.
func (s *Files) Estimate(ctx context.Context, paths []string) (control.Estimate, error) {
	e := control.Estimate{Files: []string{}}
	err := s.st.View(func(tx *state.Tx) error {
		for _, p := range paths {
			f, ok, err := tx.File(p)
			if err != nil {
				return err
			}
			if !ok || !s.known(f.Inbox) {
				continue
			}
			e.Files = append(e.Files, f.Path)
			if f.Pages > 0 {
				e.Pages += f.Pages
			} else {
				e.Unknown++
			}
		}
		return nil
	})
	if err != nil {
		return control.Estimate{}, fmt.Errorf("estimate cost of %d files: %w", len(paths), err)
	}
	return e, nil
}

// HistoryDays returns the daily totals the state keeps for the last days
// days (today included), oldest first; days without events are left out.
func (s *Files) HistoryDays(days int) ([]state.DayCounts, error) {
	var out []state.DayCounts
	err := s.st.View(func(tx *state.Tx) error {
		var err error
		out, err = tx.HistoryDays(time.Now(), days)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the history in %s: %w", s.st.Path(), err)
	}
	return out, nil
}

// Locate says where the tracked file path is: in its inbox, or where it
// was moved. A path the state does not know (or of an inbox not
// configured) gives control.ErrNotFound.
func (s *Files) Locate(ctx context.Context, path string) (control.Location, error) {
	var loc control.Location
	err := s.st.View(func(tx *state.Tx) error {
		f, err := s.tracked(tx, path)
		if err != nil {
			return err
		}
		loc = control.Location{Path: f.Path, Inbox: f.Inbox, MovedTo: f.MovedTo}
		return nil
	})
	if err != nil {
		return control.Location{}, fmt.Errorf("%s: %w", path, err)
	}
	return loc, nil
}

// tracked is the record of path, or control.ErrNotFound when the state
// does not know it or its inbox is not configured.
func (s *Files) tracked(tx *state.Tx, path string) (state.File, error) {
	f, ok, err := tx.File(path)
	if err != nil {
		return state.File{}, err
	}
	if !ok || !s.known(f.Inbox) {
		return state.File{}, control.ErrNotFound
	}
	return f, nil
}

// onDisk tells that something is at p (the page offers the original only
// then, rather than a link that answers 404).
func onDisk(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
