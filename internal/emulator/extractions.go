package emulator

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

type upload struct {
	name string
	path string
	size int64
	a    analysis
}

// submit is POST /v1/extractions.
func (e *Emulator) submit(w http.ResponseWriter, r *http.Request, key string) {
	idemKey := r.Header.Get(apitypes.HeaderIdempotencyKey)
	var entry *idemEntry
	// cache is set once the whole request was read: only then may an error
	// answer be cached (QuirkCacheErrors), as a request that never fully
	// arrived was never processed.
	var cache *errCapture
	if idemKey != "" {
		scoped := key + "\x00" + idemKey
		for {
			e.mu.Lock()
			ent, ok := e.idem[scoped]
			if ok && e.now().Sub(ent.created) > 24*time.Hour {
				delete(e.idem, scoped)
				ok = false
			}
			if !ok {
				entry = &idemEntry{done: make(chan struct{}), created: e.now()}
				e.idem[scoped] = entry
				e.mu.Unlock()
				break
			}
			e.mu.Unlock()
			// Another request with this key is in progress: wait for it.
			select {
			case <-ent.done:
			case <-r.Context().Done():
				return
			}
			if ent.body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
				e.mu.Lock()
				e.stats.IdempotentReplays++
				e.mu.Unlock()
				w.Header().Set(apitypes.HeaderIdempotentReplayed, "true")
				writeRaw(w, e.submitted(), ent.body)
				return
			}
			if ent.errBody != nil {
				_, _ = io.Copy(io.Discard, r.Body)
				e.count(func(i *Injected) { i.CachedErrors++ })
				w.Header().Set(apitypes.HeaderIdempotentReplayed, "true")
				writeRaw(w, ent.errStatus, ent.errBody)
				return
			}
			// The first attempt failed: errors are not cached; try again.
		}
		if e.quirk(QuirkCacheErrors) {
			cache = &errCapture{ResponseWriter: w}
			w = cache
		}
		defer func() {
			e.mu.Lock()
			if entry.body == nil && cache != nil && cache.ready && cache.status >= 400 {
				entry.errStatus, entry.errBody = cache.status, cache.body
			}
			if entry.body == nil && entry.errBody == nil && e.idem[scoped] == entry {
				delete(e.idem, scoped)
			}
			e.mu.Unlock()
			close(entry.done)
		}()
	}

	parserID, ups, status, code, msg := e.readUploads(r)
	defer func() {
		for _, u := range ups {
			os.Remove(u.path)
		}
	}()
	if code != "" {
		writeErr(w, status, code, msg)
		return
	}
	if cache != nil {
		cache.ready = true
	}
	e.mu.Lock()
	p, ok := e.parsers[parserID]
	e.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, apitypes.CodeParserNotFound, fmt.Sprintf("Parser %q not found.", parserID))
		return
	}
	if !p.configured {
		writeErr(w, http.StatusBadRequest, apitypes.CodeParserNotConfigured, fmt.Sprintf("Parser %q has no schema configured.", parserID))
		return
	}
	pages := 0
	for i := range ups {
		a, err := analyse(ups[i].path)
		if errors.Is(err, errUnsupported) {
			writeErr(w, http.StatusBadRequest, apitypes.CodeUnsupportedFileType,
				fmt.Sprintf("File %q is not a supported type (PDF, PNG, JPG, JPEG, WebP).", ups[i].name))
			return
		}
		if err != nil {
			writeErr(w, http.StatusBadRequest, apitypes.CodePageCountFailed,
				fmt.Sprintf("Could not count the pages of %q.", ups[i].name))
			return
		}
		ups[i].a = a
		pages += a.pages
	}

	e.mu.Lock()
	if e.credits < pages {
		have := e.credits
		e.mu.Unlock()
		writeErr(w, http.StatusPaymentRequired, apitypes.CodeInsufficientCredits,
			fmt.Sprintf("This submission needs %d credits; %d available.", pages, have))
		return
	}
	e.credits -= pages
	now := e.now()
	j := &job{created: now, updated: now}
	j.ExtractionID = e.nextID("ext")
	j.ParserID = p.ParserID
	j.ParserName = p.Name
	j.Status = apitypes.StatusQueued
	j.FileCount = len(ups)
	j.PageCount = pages
	j.CreditsUsed = pages
	for _, u := range ups {
		d := &doc{job: j, text: u.a.text, created: now, updated: now}
		d.DocumentID = e.nextID("doc")
		d.Filename = u.name
		d.FileType = u.a.mime
		d.FileSize = u.size
		d.Status = apitypes.StatusQueued
		d.PageCount = u.a.pages
		d.CreditsUsed = u.a.pages
		d.fail = hasFailMarker(u.a.text)
		j.docs = append(j.docs, d)
	}
	e.jobs[j.ExtractionID] = j
	e.stats.ExtractionsCreated++
	e.stats.DocumentsCreated += len(j.docs)
	e.stats.PagesCharged += pages
	out := apitypes.Submitted{
		ExtractionID: j.ExtractionID, ParserID: j.ParserID, Status: j.Status, FileCount: j.FileCount,
		PageCount: j.PageCount, CreditsUsed: j.CreditsUsed, CreditsRemaining: e.credits,
	}
	for _, d := range j.docs {
		out.Documents = append(out.Documents, apitypes.SubmittedDocument{
			DocumentID: d.DocumentID, Filename: d.Filename, PageCount: d.PageCount, CreditsUsed: d.CreditsUsed, Status: d.Status,
		})
	}
	body, _ := json.Marshal(apitypes.SubmittedEnvelope{Extraction: out})
	if entry != nil {
		entry.body = body
		entry.jobID = j.ExtractionID
	}
	e.queue = append(e.queue, j.docs...)
	e.queueCond.Broadcast()
	cut := e.opts.CutRate > 0 && e.rng.Float64() < e.opts.CutRate
	if cut {
		e.injected.Cut++
	}
	e.mu.Unlock()

	if cut {
		// The job exists and is charged; the client never hears of it.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	writeRaw(w, e.submitted(), body)
}

// submitted is the status of an accepted submission: 202, or 200 under
// QuirkStatus200.
func (e *Emulator) submitted() int {
	if e.quirk(QuirkStatus200) {
		return http.StatusOK
	}
	return http.StatusAccepted
}

// errCapture keeps a copy of the error answer it passes on.
type errCapture struct {
	http.ResponseWriter
	ready  bool
	status int
	body   []byte
}

func (c *errCapture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *errCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status >= 400 {
		c.body = append(c.body, b...)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets the cut-connection fault reach the connection.
func (c *errCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// readUploads streams the multipart body to temporary files.
func (e *Emulator) readUploads(r *http.Request) (parserID string, ups []upload, status int, code, msg string) {
	bad := func(m string) (string, []upload, int, string, string) {
		return parserID, ups, http.StatusBadRequest, apitypes.CodeInvalidPayload, m
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return bad("Content-Type must be multipart/form-data with fields parser_id and files.")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return bad("Malformed multipart body: " + err.Error())
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("Malformed multipart body: " + err.Error())
		}
		switch part.FormName() {
		case "parser_id":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			parserID = strings.TrimSpace(string(b))
		case "files":
			if len(ups) >= apitypes.MaxFilesPerSubmission {
				return bad("At most 50 files per submission.")
			}
			u, m := e.spool(part)
			if u.path != "" {
				ups = append(ups, u)
			}
			if m != "" {
				return bad(m)
			}
		default:
			_, _ = io.Copy(io.Discard, part)
		}
		part.Close()
	}
	if parserID == "" {
		return bad("Missing required field parser_id.")
	}
	if len(ups) == 0 {
		return bad("Missing required field files.")
	}
	return parserID, ups, 0, "", ""
}

func (e *Emulator) spool(part *multipart.Part) (upload, string) {
	f, err := os.CreateTemp(e.opts.TempDir, "ppsync-emulator-*")
	if err != nil {
		return upload{}, "Server could not store the upload."
	}
	defer f.Close()
	name := part.FileName()
	if name == "" {
		name = "file"
	}
	n, err := io.Copy(f, io.LimitReader(part, e.opts.MaxFileSize+1))
	u := upload{name: name, path: f.Name(), size: n}
	if err != nil {
		return u, "Upload of " + strconv.Quote(name) + " was interrupted: " + err.Error()
	}
	if n > e.opts.MaxFileSize {
		return u, fmt.Sprintf("File %q is larger than the %d MiB limit.", name, e.opts.MaxFileSize>>20)
	}
	return u, ""
}

// worker processes queued documents: processing-time per page each.
func (e *Emulator) worker() {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		for len(e.queue) == 0 && e.ctx.Err() == nil {
			e.queueCond.Wait()
		}
		if e.ctx.Err() != nil {
			e.mu.Unlock()
			return
		}
		d := e.queue[0]
		e.queue = e.queue[1:]
		now := e.now()
		d.Status = apitypes.StatusProcessing
		d.updated = now
		if d.job.Status == apitypes.StatusQueued {
			d.job.Status = apitypes.StatusProcessing
			d.job.updated = now
		}
		work := time.Duration(d.PageCount) * e.opts.ProcessingTime
		e.mu.Unlock()

		t := time.NewTimer(work)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		e.finish(d, work)
	}
}

func (e *Emulator) finish(d *doc, work time.Duration) {
	e.mu.Lock()
	now := e.now()
	d.updated = now
	ms := work.Milliseconds()
	d.ProcessingTimeMS = &ms
	if d.fail {
		d.Status = apitypes.StatusFailed
		d.ErrorMessage = ptr("Extraction failed: the document could not be read.")
	} else {
		d.Status = apitypes.StatusCompleted
		conf := 0.9 + 0.09*float64(len(d.text)%10)/10
		d.Confidence = &conf
		d.ExtractedData = invoiceData(d.text) // images carry made-up receipt lines (image.go)
	}
	j := d.job
	j.updated = now
	terminal := true
	var done, failed int
	for _, x := range j.docs {
		switch x.Status {
		case apitypes.StatusCompleted:
			done++
		case apitypes.StatusFailed:
			failed++
		default:
			terminal = false
		}
	}
	if terminal {
		switch {
		case failed == 0:
			j.Status = apitypes.StatusCompleted
		case done == 0:
			j.Status = apitypes.StatusFailed
		default:
			j.Status = apitypes.StatusPartial
		}
		c := ts(now)
		j.CompletedAt = &c
	}
	events := e.eventsFor(d, terminal)
	e.mu.Unlock()
	for _, ev := range events {
		e.deliver(ev)
	}
}

// --- reads ----------------------------------------------------------------

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
