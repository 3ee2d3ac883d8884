// Package webui is the status page served by the admin endpoint at "/": an
// overview of every inbox, a searchable list of files, each file's life and
// extracted data, retry buttons for failures, and an optional upload area.
// The page is one embedded HTML, CSS and JavaScript bundle (no CDN, no
// build step); it reads JSON from /ui/api/ and polls it every second.
package webui

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
)

//go:embed static
var static embed.FS

// Options configure the page.
type Options struct {
	Reader Reader
	Live   Live
	// Activity feeds the charts; nil leaves them out.
	Activity *activity.Recorder
	Upload   Upload
	Log      *slog.Logger
	// Inboxes are the configured inboxes: their ledgers and the folders
	// their originals may be served from (see original.go, ledger.go).
	Inboxes []config.Inbox
}

// Upload configures the "drop here" area.
type Upload struct {
	Enabled bool
	// MaxBytes caps one upload (0 means DefaultUploadMax).
	MaxBytes int64
	// Extensions are the accepted file name endings, such as ".pdf"
	// (nil means just ".pdf").
	Extensions []string
	// Inboxes are the configured inboxes, by path: a name an inbox's
	// filters would ignore is refused. An inbox not listed gets the
	// default filters.
	Inboxes []config.Inbox
	// Stall is how long an upload may send nothing before it is cut
	// (0 means DefaultUploadStall). The whole upload may take as long as
	// its size needs at MinUploadRate.
	Stall time.Duration
}

// Upload limits.
const (
	// DefaultUploadMax is the upload cap when none is set.
	DefaultUploadMax = 50 << 20
	// DefaultUploadStall is how long an upload may pause.
	DefaultUploadStall = 30 * time.Second
	// MinUploadRate is the slowest link an upload is given time for, in
	// bytes per second.
	MinUploadRate = 8 << 10
)

// Paths of the page and its data.
const (
	apiPrefix  = "/ui/api/"
	maxPerPage = 500
)

type server struct {
	o   Options
	log *slog.Logger
}

// New builds the page's handler. Mount it at "/" of the admin endpoint: it
// answers "/" (the page), "/ui/static/" and "/ui/api/".
func New(o Options) http.Handler {
	if o.Upload.MaxBytes <= 0 {
		o.Upload.MaxBytes = DefaultUploadMax
	}
	if o.Upload.Stall <= 0 {
		o.Upload.Stall = DefaultUploadStall
	}
	if len(o.Upload.Extensions) == 0 {
		o.Upload.Extensions = []string{".pdf"}
	}
	for i, e := range o.Upload.Extensions {
		e = strings.ToLower(e)
		if !strings.HasPrefix(e, ".") {
			e = "." + e
		}
		o.Upload.Extensions[i] = e
	}
	s := &server{o: o, log: o.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	sub, _ := fs.Sub(static, "static")
	files := loadAssets(sub)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", files.servePage)
	mux.HandleFunc("GET /ui/static/", files.serveStatic)
	mux.HandleFunc("GET /favicon.ico", files.serveFavicon)
	mux.HandleFunc("GET "+apiPrefix+"overview", s.overview)
	mux.HandleFunc("GET "+apiPrefix+"files", s.files)
	mux.HandleFunc("GET "+apiPrefix+"files.csv", s.filesCSV)
	mux.HandleFunc("GET "+apiPrefix+"file", s.file)
	mux.HandleFunc("GET "+apiPrefix+"raw", s.raw)
	mux.HandleFunc("POST "+apiPrefix+"estimate", s.estimate)
	mux.HandleFunc("POST "+apiPrefix+"retry", s.act(false))
	mux.HandleFunc("POST "+apiPrefix+"reprocess", s.act(true))
	mux.HandleFunc("POST "+apiPrefix+"upload", s.upload)
	mux.HandleFunc("GET "+apiPrefix+"original", s.original)
	mux.HandleFunc("GET "+apiPrefix+"ledgers", s.ledgers)
	mux.HandleFunc("GET "+apiPrefix+"ledger", s.ledger)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers an error as JSON {"error": msg}, which the page shows.
func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Overview is the answer of /ui/api/overview.
type Overview struct {
	Now       time.Time          `json:"now"`
	Report    report.Report      `json:"report"`
	Activity  *activity.Snapshot `json:"activity,omitempty"`
	Inboxes   []InboxInfo        `json:"inboxes"`
	Upload    *UploadInfo        `json:"upload,omitempty"`
	Reprocess bool               `json:"reprocess"`
}

// UploadInfo tells the page what it may upload.
type UploadInfo struct {
	MaxBytes   int64    `json:"max_bytes"`
	Extensions []string `json:"extensions"`
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	rep, err := s.o.Live.Status(r.Context())
	if err != nil {
		fail(w, http.StatusInternalServerError, "status: "+err.Error())
		return
	}
	ov := Overview{Now: time.Now(), Report: rep, Inboxes: s.o.Reader.Inboxes()}
	if s.o.Activity != nil {
		snap := s.o.Activity.Snapshot()
		ov.Activity = &snap
	}
	if s.o.Upload.Enabled {
		ov.Upload = &UploadInfo{MaxBytes: s.o.Upload.MaxBytes, Extensions: s.o.Upload.Extensions}
	}
	ov.Reprocess = true
	writeJSON(w, ov)
}

func (s *server) files(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := Query{Search: v.Get("q"), Inbox: v.Get("inbox"), State: v.Get("state"), Sort: v.Get("sort"), Limit: 50}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"offset", &q.Offset}, {"limit", &q.Limit}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				fail(w, http.StatusBadRequest, p.name+" must be a number of 0 or more")
				return
			}
			*p.dst = n
		}
	}
	q.Limit = min(max(q.Limit, 1), maxPerPage)
	page, err := s.o.Reader.Files(r.Context(), q)
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, page)
}

// failLookup answers a failed lookup of a file: 404 when the file is not
// known, 500 otherwise. It reports whether err was answered (not nil).
func failLookup(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	default:
		fail(w, http.StatusInternalServerError, err.Error())
	}
	return true
}

func (s *server) file(w http.ResponseWriter, r *http.Request) {
	fd, err := s.o.Reader.File(r.Context(), r.URL.Query().Get("path"))
	if failLookup(w, err) {
		return
	}
	writeJSON(w, withFix(fd))
}

func (s *server) raw(w http.ResponseWriter, r *http.Request) {
	b, err := s.o.Reader.Result(r.Context(), r.URL.Query().Get("path"))
	if failLookup(w, err) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_, _ = w.Write(b)
}

// ActionRequest is the body of estimate, retry and reprocess.
type ActionRequest struct {
	Paths []string `json:"paths"`
	// Action is "retry" or "reprocess" (estimate only).
	Action string `json:"action,omitempty"`
}

// ActionAnswer is the answer of retry and reprocess.
type ActionAnswer struct {
	Done []string `json:"done"`
}

func readAction(w http.ResponseWriter, r *http.Request) (ActionRequest, bool) {
	var a ActionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&a); err != nil || len(a.Paths) == 0 {
		fail(w, http.StatusBadRequest, `the body must be {"paths": ["..."]} with at least one path`)
		return a, false
	}
	return a, true
}

// eligible tells whether a file in state st can be sent again by action.
func eligible(st string, reprocess bool) bool {
	if reprocess {
		return st == report.Done || st == report.Failed || st == report.Invalid
	}
	return st == report.Failed || st == report.Invalid
}

// EstimateAnswer says what an action will do before it is done.
type EstimateAnswer struct {
	Estimate
	Action string `json:"action"`
	// Skipped are paths the action does not apply to, with why.
	Skipped map[string]string `json:"skipped"`
}

func (s *server) estimate(w http.ResponseWriter, r *http.Request) {
	a, ok := readAction(w, r)
	if !ok {
		return
	}
	reprocess := a.Action == "reprocess"
	if !reprocess && a.Action != "retry" {
		fail(w, http.StatusBadRequest, `action must be "retry" or "reprocess"`)
		return
	}
	ans := EstimateAnswer{Action: a.Action, Skipped: map[string]string{}}
	var keep []string
	for _, p := range a.Paths {
		fd, err := s.o.Reader.File(r.Context(), p)
		switch {
		case errors.Is(err, ErrNotFound):
			ans.Skipped[p] = "not tracked"
		case err != nil:
			fail(w, http.StatusInternalServerError, err.Error())
			return
		case !eligible(fd.State, reprocess):
			ans.Skipped[p] = "it is " + fd.State
		default:
			keep = append(keep, p)
		}
	}
	e, err := s.o.Reader.Estimate(r.Context(), keep)
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	ans.Estimate = e
	writeJSON(w, ans)
}

func (s *server) act(reprocess bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := readAction(w, r)
		if !ok {
			return
		}
		var done []string
		var err error
		if reprocess {
			var ans control.ReprocessAnswer
			ans, err = s.o.Live.Reprocess(r.Context(), a.Paths)
			done = ans.Reprocessed
		} else {
			var ans control.RetryAnswer
			ans, err = s.o.Live.Retry(r.Context(), control.RetryRequest{Paths: a.Paths})
			done = ans.Retried
		}
		if err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		if done == nil {
			done = []string{}
		}
		s.log.Info("files sent through again from the status page", "files", len(done), "reprocess", reprocess, "remote", r.RemoteAddr)
		writeJSON(w, ActionAnswer{Done: done})
	}
}

// csvMaxRows caps the rows of one CSV download of the list.
const csvMaxRows = 1_000_000

// filesCSV answers the list as filtered (q, inbox, state, sort), every
// page of it, as a CSV file to download.
func (s *server) filesCSV(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := Query{Search: v.Get("q"), Inbox: v.Get("inbox"), State: v.Get("state"), Sort: v.Get("sort"), Limit: csvMaxRows}
	page, err := s.o.Reader.Files(r.Context(), q)
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="ppsync-files-`+time.Now().Format("2006-01-02")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"path", "name", "inbox", "state", "when", "pages", "cost", "code", "reason", "found_by"})
	for _, row := range page.Rows {
		when := ""
		if !row.When.IsZero() {
			when = row.When.UTC().Format(time.RFC3339)
		}
		_ = cw.Write([]string{cell(row.Path), cell(row.Name), cell(row.Inbox), row.State, when, strconv.Itoa(row.Pages),
			strconv.Itoa(row.Cost), cell(row.Code), cell(row.Reason), cell(row.Match)})
	}
	cw.Flush()
}

// cell keeps a spreadsheet from reading a value as a formula: one that
// starts with = + - @ or a control character gets a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
