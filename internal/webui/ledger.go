package webui

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/ppsync/ppsync/internal/safeopen"
)

// LedgerInfo is an inbox's ledger, in the answer of /ui/api/ledgers.
type LedgerInfo struct {
	Inbox string `json:"inbox"`
	// Name is the ledger's file name, such as "invoices.csv".
	Name string `json:"name"`
	// URL downloads it.
	URL string `json:"url"`
}

// ledgerTypes are the ledger's Content-Types, by its extension (the
// config allows these two).
var ledgerTypes = map[string]string{
	".csv":  "text/csv; charset=utf-8",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// ledgers answers GET /ui/api/ledgers: the inboxes that keep a ledger.
func (s *server) ledgers(w http.ResponseWriter, r *http.Request) {
	out := []LedgerInfo{}
	for _, in := range s.o.Inboxes {
		if in.Ledger != "" {
			out = append(out, LedgerInfo{Inbox: in.Path, Name: filepath.Base(in.Ledger), URL: apiPrefix + "ledger?inbox=" + url.QueryEscape(in.Path)})
		}
	}
	writeJSON(w, out)
}

// ledger answers GET /ui/api/ledger?inbox=...: the inbox's ledger as a
// download. Only the ledger the config names is served, opened in its
// folder and never through a link (safeopen.OpenBelow).
func (s *server) ledger(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("inbox")
	in, ok := s.inbox(path)
	switch {
	case !ok:
		fail(w, http.StatusNotFound, fmt.Sprintf("%q is not a configured inbox: give the inbox's path as inbox=", path))
		return
	case in.Ledger == "":
		fail(w, http.StatusNotFound, fmt.Sprintf("inbox %s keeps no ledger: set ledger = \"invoices.csv\" in its [[inbox]] (see docs/ledger.md)", in.Path))
		return
	}
	ct, ok := ledgerTypes[strings.ToLower(filepath.Ext(in.Ledger))]
	if !ok {
		ct = "application/octet-stream"
	}
	f, err := safeopen.OpenBelow(filepath.Dir(in.Ledger), in.Ledger)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fail(w, http.StatusNotFound, fmt.Sprintf("the ledger %s of inbox %s is not written yet: ppsync writes it a few seconds after the first result (or run 'ppsync ledger rebuild')", in.Ledger, in.Path))
		return
	case errors.Is(err, safeopen.ErrLink):
		s.log.Warn("ledger not served: reached through a link", "ledger", in.Ledger, "remote", r.RemoteAddr)
		fail(w, http.StatusForbidden, fmt.Sprintf("the ledger %v; ppsync writes it as a plain file, and again with its next result", err))
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, fmt.Sprintf("ledger of inbox %s: %v: check that the ppsync user may read it", in.Path, err))
		return
	}
	defer f.Close()
	serveFile(w, r, f, ct, "attachment", PolicySandboxed)
}
