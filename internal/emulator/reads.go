package emulator

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

var jobStatuses = []string{apitypes.StatusQueued, apitypes.StatusPending, apitypes.StatusProcessing,
	apitypes.StatusCompleted, apitypes.StatusFailed, apitypes.StatusPartial}

func (j *job) summary() *apitypes.DocumentSummary {
	s := &apitypes.DocumentSummary{Total: len(j.docs)}
	for _, d := range j.docs {
		switch d.Status {
		case apitypes.StatusCompleted:
			s.Completed++
		case apitypes.StatusFailed:
			s.Failed++
		default:
			s.Processing++
		}
	}
	return s
}

// view renders a job; mode is "list", "status" or "results".
func (j *job) view(mode string) apitypes.Extraction {
	x := apitypes.Extraction{
		ExtractionID: j.ExtractionID, ParserID: j.ParserID, Status: j.Status, FileCount: j.FileCount,
		PageCount: j.PageCount, CreditsUsed: j.CreditsUsed, CreatedAt: ts(j.created), CompletedAt: j.CompletedAt,
	}
	if mode != "results" {
		x.ParserName = j.ParserName
		x.UpdatedAt = ts(j.updated)
	}
	switch mode {
	case "list":
		x.DocumentSummary = j.summary()
	case "status":
		x.Documents = []apitypes.Document{}
		for _, d := range j.docs {
			x.Documents = append(x.Documents, d.view(false))
		}
	case "results":
		x.Documents = []apitypes.Document{}
		for _, d := range j.docs {
			if d.Status == apitypes.StatusCompleted || d.Status == apitypes.StatusFailed {
				x.Documents = append(x.Documents, d.view(true))
			}
		}
	}
	return x
}

func (d *doc) view(withData bool) apitypes.Document {
	v := apitypes.Document{
		DocumentID: d.DocumentID, Filename: d.Filename, Status: d.Status, PageCount: d.PageCount,
		CreditsUsed: d.CreditsUsed, ErrorMessage: d.ErrorMessage, CreatedAt: ts(d.created), UpdatedAt: ts(d.updated),
	}
	if withData {
		v.Confidence = d.Confidence
		v.ProcessingTimeMS = d.ProcessingTimeMS
		v.ExtractedData = d.ExtractedData
		if d.Status == apitypes.StatusCompleted && v.ExtractedData == nil {
			v.ExtractedData = json.RawMessage(`{}`)
		}
	}
	return v
}

func (e *Emulator) listExtractions(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(jobStatuses, status) {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload,
			fmt.Sprintf("Unknown status %q: use one of %s.", status, strings.Join(jobStatuses, ", ")))
		return
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "since must be an ISO 8601 timestamp, e.g. 2026-06-20T10:00:00Z.")
			return
		}
		since = t
	}
	limit, ok := pageLimit(r, 50)
	if !ok {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "limit must be a positive integer.")
		return
	}
	var after *cursorKey
	if c := q.Get("cursor"); c != "" {
		k, ok := decodeCursorKey(c)
		if !ok {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Invalid cursor.")
			return
		}
		after = &k
	}
	parserID := q.Get("parser_id")
	e.mu.Lock()
	var js []*job
	for _, j := range e.jobs {
		if parserID != "" && j.ParserID != parserID {
			continue
		}
		if status != "" && j.Status != status {
			continue
		}
		if !since.IsZero() && !j.updated.After(since) {
			continue
		}
		if after != nil && !after.before(j) {
			continue
		}
		js = append(js, j)
	}
	sortJobs(js)
	out := apitypes.ExtractionList{Extractions: []apitypes.Extraction{}, Pagination: apitypes.Pagination{Limit: limit}}
	for i, j := range js {
		if i == limit {
			out.Pagination.HasNextPage = true
			c := encodeCursorKey(js[i-1])
			out.Pagination.NextCursor = &c
			break
		}
		out.Extractions = append(out.Extractions, j.view("list"))
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// cursorKey is a keyset position in (updated desc, id desc) order.
type cursorKey struct {
	Updated int64  `json:"u"`
	ID      string `json:"i"`
}

// before reports whether j sorts strictly after the cursor position.
func (k cursorKey) before(j *job) bool {
	u := j.updated.UnixNano()
	if u != k.Updated {
		return u < k.Updated
	}
	return j.ExtractionID < k.ID
}

func encodeCursorKey(j *job) string {
	b, _ := json.Marshal(cursorKey{Updated: j.updated.UnixNano(), ID: j.ExtractionID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursorKey(s string) (cursorKey, bool) {
	var k cursorKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &k) != nil || k.ID == "" {
		return k, false
	}
	return k, true
}

func encodeCursorOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(n)))
}

func decodeCursorOffset(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "o:") {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[2:]))
	return n, err == nil && n >= 0
}

func (e *Emulator) lookupJob(w http.ResponseWriter, r *http.Request) *job {
	j, ok := e.jobs[r.PathValue("id")]
	if !ok {
		writeErr(w, http.StatusNotFound, apitypes.CodeResourceNotFound, "Extraction not found.")
		return nil
	}
	return j
}

func (e *Emulator) getExtraction(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if j := e.lookupJob(w, r); j != nil {
		writeJSON(w, http.StatusOK, apitypes.ExtractionEnvelope{Extraction: j.view("status")})
	}
}

func (e *Emulator) getResults(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if j := e.lookupJob(w, r); j != nil {
		writeJSON(w, http.StatusOK, apitypes.ExtractionEnvelope{Extraction: j.view("results")})
	}
}

func (e *Emulator) lookupDoc(w http.ResponseWriter, r *http.Request) *doc {
	j := e.lookupJob(w, r)
	if j == nil {
		return nil
	}
	id := r.PathValue("doc_id")
	for _, d := range j.docs {
		if d.DocumentID == id {
			return d
		}
	}
	writeErr(w, http.StatusNotFound, apitypes.CodeResourceNotFound, "Document not found in this extraction.")
	return nil
}

func (d *doc) full() apitypes.Document {
	v := d.view(true)
	v.ExtractionID = d.job.ExtractionID
	v.ParserID = d.job.ParserID
	v.ParserName = d.job.ParserName
	v.FileType = d.FileType
	v.FileSize = d.FileSize
	return v
}

func (e *Emulator) getDocument(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.lookupDoc(w, r); d != nil {
		writeJSON(w, http.StatusOK, apitypes.DocumentEnvelope{Document: d.full()})
	}
}

// The export endpoints' format is not documented; the emulator offers
// ?format=json (default) and ?format=csv.
func (e *Emulator) exportExtraction(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.lookupJob(w, r)
	if j == nil {
		return
	}
	var docs []apitypes.Document
	for _, d := range j.docs {
		docs = append(docs, d.full())
	}
	writeExport(w, r, j.ExtractionID, docs)
}

func (e *Emulator) exportDocument(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.lookupDoc(w, r); d != nil {
		writeExport(w, r, d.DocumentID, []apitypes.Document{d.full()})
	}
}

func writeExport(w http.ResponseWriter, r *http.Request, name string, docs []apitypes.Document) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		writeJSON(w, http.StatusOK, map[string]any{"documents": docs})
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"document_id", "filename", "status", "extracted_data"})
		for _, d := range docs {
			_ = cw.Write([]string{d.DocumentID, d.Filename, d.Status, string(d.ExtractedData)})
		}
		cw.Flush()
	default:
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "format must be json or csv.")
	}
}
