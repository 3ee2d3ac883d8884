package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
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
	if !e.checkNames(w, ups) {
		return
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
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return bad("Content-Type must be multipart/form-data with fields parser_id and files.")
	}
	if params["boundary"] == "" {
		return bad("Malformed multipart body: no boundary.")
	}
	// Control characters in part headers are marked, not fatal (names.go).
	mr := multipart.NewReader(newHeaderControls(r.Body, params["boundary"]), params["boundary"])
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
