package webui

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
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// ErrNotFound means no file with that path is tracked.
var ErrNotFound = errors.New("file not tracked")

// Reader is the read side of the page: what the state file knows.
// *StoreSource implements it.
type Reader interface {
	Files(ctx context.Context, q Query) (Page, error)
	File(ctx context.Context, path string) (FileDetail, error)
	// Result is the content of the file's result or error file.
	Result(ctx context.Context, path string) ([]byte, error)
	// Estimate says what sending paths through again would cost.
	Estimate(ctx context.Context, paths []string) (Estimate, error)
	Inboxes() []InboxInfo
}

// Live is what only the running daemon knows or does. Its Report and Retry
// are the admin endpoint's (the same data as `ppsync status --json`).
type Live interface {
	Report() (report.Report, error)
	// Retry sends failed or refused files through again.
	Retry(paths []string, failed bool) ([]string, error)
}

// Reprocessor is implemented by a Live that can also send finished files
// through again (a new submission, charged again). Without it the page
// offers no "process again" button.
type Reprocessor interface {
	Reprocess(paths []string) ([]string, error)
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

	key string // lower-case name, for sorting
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
	Fix        *Fix   `json:"fix,omitempty"`
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

// StoreSource reads files from the state store for the configured inboxes.
type StoreSource struct {
	st      *state.Store
	inboxes []InboxInfo
	// own reads result and error files back, below the inboxes' output
	// folders only, and only files ppsync wrote.
	own results.Own
	// index holds the extracted fields of finished files, for searches.
	index   fieldIndex
	warming atomic.Bool // a goroutine fills index

	mu   sync.Mutex
	last struct { // the last answer of Files
		q       Query
		version uint64
		page    Page // its Rows are never nil once an answer is kept
		at      time.Time
		took    time.Duration // the walk that made it
	}
}

// forget drops the last answer of Files.
func (s *StoreSource) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last.page.Rows = nil
}

// reuseFactor bounds the share of time the file list's walks take while the
// state changes (see Files).
const reuseFactor = 9

// NewStoreSource reads st for the inboxes of cfg.
func NewStoreSource(st *state.Store, inboxes []config.Inbox) *StoreSource {
	s := &StoreSource{st: st}
	for _, in := range inboxes {
		s.inboxes = append(s.inboxes, InboxInfo{Path: in.Path, ParserID: in.ParserID, Name: filepath.Base(in.Path)})
		s.own.Roots = append(s.own.Roots, results.RootsOf(in.Path, in.ResultsDir, in.ProcessedDir, in.FailedDir)...)
	}
	return s
}

// WithLog makes s log the result files it refuses to read back (a link, a
// hard link, a file ppsync did not write) there; it returns s.
func (s *StoreSource) WithLog(log *slog.Logger) *StoreSource {
	s.own.Log = log
	return s
}

// Inboxes lists the configured inboxes.
func (s *StoreSource) Inboxes() []InboxInfo { return slices.Clone(s.inboxes) }

func (s *StoreSource) known(inbox string) bool {
	return slices.ContainsFunc(s.inboxes, func(i InboxInfo) bool { return i.Path == inbox })
}

// stateOf maps a record to the state the report counts it under (queued
// files waiting for credits are counted as queued here: only the live
// report knows about credits).
func stateOf(tx *state.Tx, f state.File) string {
	switch f.State {
	case state.FileDone:
		return report.Done
	case state.FileFailed:
		return report.Failed
	case state.FileInvalid:
		return report.Invalid
	case state.FileGone:
		return report.Gone
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

func rowOf(f state.File, st string) Row {
	return Row{Path: f.Path, Name: filepath.Base(f.Path), Inbox: f.Inbox, State: st, When: f.Updated,
		Pages: f.Pages, Cost: cost(f), Code: f.Code, Reason: f.Reason, key: strings.ToLower(filepath.Base(f.Path))}
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
func (s *StoreSource) Files(ctx context.Context, q Query) (Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	search := strings.ToLower(strings.TrimSpace(q.Search))
	var p Page
	var unindexed []state.File // finished files whose fields the index lacks
	walk := func(tx *state.Tx) error {
		if s.last.page.Rows != nil && s.last.q == q && (tx.Version() == s.last.version || time.Since(s.last.at) < reuseFactor*s.last.took) {
			p = s.last.page
			return nil
		}
		start := time.Now()
		sel := pageOf(q.Offset, q.Limit, rowOrder(q.Sort))
		p = Page{}
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
		return Page{}, fmt.Errorf("list files in %s: %w", s.st.Path(), err)
	}
	return p, nil
}

// rowOrder is the list's order for a sort parameter: by the field named
// (a leading "-" reverses), then by name and path, so every two rows
// compare unequal.
func rowOrder(by string) func(a, b Row) int {
	desc := strings.HasPrefix(by, "-")
	by = strings.TrimPrefix(by, "-")
	var f func(a, b Row) int
	switch by {
	case "inbox":
		f = func(a, b Row) int { return cmp.Compare(a.Inbox, b.Inbox) }
	case "state":
		f = func(a, b Row) int { return cmp.Compare(a.State, b.State) }
	case "pages":
		f = func(a, b Row) int { return cmp.Compare(a.Pages, b.Pages) }
	case "cost":
		f = func(a, b Row) int { return cmp.Compare(a.Cost, b.Cost) }
	case "when":
		f = func(a, b Row) int { return a.When.Compare(b.When) }
	default:
		f = func(a, b Row) int { return 0 }
	}
	return func(a, b Row) int {
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
func (s *StoreSource) File(ctx context.Context, path string) (FileDetail, error) {
	var fd FileDetail
	var rec state.File
	err := s.st.View(func(tx *state.Tx) error {
		f, ok, err := tx.File(path)
		if err != nil {
			return err
		}
		if !ok || !s.known(f.Inbox) {
			return ErrNotFound
		}
		st := stateOf(tx, f)
		rec = f
		fd = FileDetail{Row: rowOf(f, st), Size: f.Size, SHA256: f.SHA256, ParserID: f.ParserID, ResultPath: f.Result}
		fd.Life = append(fd.Life, Event{At: f.FirstSeen, What: "seen", Detail: "found in the inbox"})
		if f.ModTime != 0 {
			fd.Life = append(fd.Life, Event{At: time.Unix(0, f.ModTime), What: "last modified", Detail: fmt.Sprintf("%d bytes", f.Size)})
		}
		if f.SHA256 != "" {
			fd.Life = append(fd.Life, Event{What: "settled and checked", Detail: pagesText(f.Pages) + ", sha256 " + f.SHA256[:min(12, len(f.SHA256))] + "…"})
			d, ok, err := tx.Doc(state.DocKey(f.ParserID, f.SHA256))
			if err != nil {
				return err
			}
			if ok {
				fd.IdempotencyKey, fd.ExtractionID, fd.DocumentID, fd.Retries = d.Batch, d.ExtractionID, d.DocumentID, d.Retries
				if !d.SubmittedAt.IsZero() || d.Batch != "" {
					fd.Life = append(fd.Life, Event{At: d.SubmittedAt, What: "submitted",
						Detail: join(labeled("idempotency key", d.Batch), labeled("job", d.ExtractionID), labeled("document", d.DocumentID))})
				} else if d.State == state.DocQueued {
					fd.Life = append(fd.Life, Event{At: d.Updated, What: "queued", Detail: "waiting to be sent"})
				}
			}
		}
		switch f.State {
		case state.FileDone:
			fd.Life = append(fd.Life, Event{At: f.Updated, What: "result written", Detail: f.Result})
		case state.FileFailed, state.FileInvalid:
			fd.Life = append(fd.Life, Event{At: f.Updated, What: st, Detail: join(f.Code, f.Reason)})
			fix := fixFor(f.Code, f.Reason, f.State == state.FileInvalid)
			fd.Fix = &fix
		case state.FileGone:
			fd.Life = append(fd.Life, Event{At: f.Updated, What: "deleted", Detail: "the file was removed before its result was written"})
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return fd, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if err != nil {
		return fd, fmt.Errorf("read %s from %s: %w", path, s.st.Path(), err)
	}
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
func (s *StoreSource) outputOf(f state.File) ([]byte, string, error) {
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
func (s *StoreSource) Result(ctx context.Context, path string) ([]byte, error) {
	var f state.File
	err := s.st.View(func(tx *state.Tx) error {
		var ok bool
		var err error
		f, ok, err = tx.File(path)
		if err != nil {
			return err
		}
		if !ok || !s.known(f.Inbox) {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("result of %s: %w", path, err)
	}
	if f.Result == "" {
		return nil, fmt.Errorf("result of %s: no result yet: %w", path, ErrNotFound)
	}
	b, _, err := s.outputOf(f)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("result of %s: %s: %w", path, missingText(f), ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("result of %s: %w", path, err)
	}
	return b, nil
}

// Estimate returns the tracked files among paths and the pages they have.
func (s *StoreSource) Estimate(ctx context.Context, paths []string) (Estimate, error) {
	e := Estimate{Files: []string{}}
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
		return Estimate{}, fmt.Errorf("estimate cost of %d files: %w", len(paths), err)
	}
	return e, nil
}

// HistoryDays returns the daily totals the state keeps for the last days
// days (today included), oldest first; days without events are left out.
func (s *StoreSource) HistoryDays(days int) ([]state.DayCounts, error) {
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
