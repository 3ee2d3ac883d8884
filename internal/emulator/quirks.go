package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Quirk is one behaviour the public docs allow, or a proxy in front of the
// API would add, that the emulator can play instead of its default reading.
// Tests run the client under each quirk to prove it depends on none of the
// emulator's guesses.
type Quirk string

// The quirks. docs/emulator.md describes each one.
const (
	// QuirkShuffle lists every "documents" array (and the items of a list
	// page) in a random, seeded order.
	QuirkShuffle Quirk = "shuffle"
	// QuirkExtraFields adds unknown fields to every JSON object returned.
	QuirkExtraFields Quirk = "extra-fields"
	// QuirkProxy5xx answers a fraction of API requests with an HTML 502 or
	// 504 page from a proxy; for a submission a 504 comes after the job was
	// created and charged.
	QuirkProxy5xx Quirk = "proxy-5xx"
	// QuirkCacheErrors caches a submission's error answer under its
	// Idempotency-Key for 24 h and replays it.
	QuirkCacheErrors Quirk = "cache-errors"
	// QuirkRetryAfter sends Retry-After (seconds) and no X-RateLimit-Reset
	// on 429 answers.
	QuirkRetryAfter Quirk = "retry-after"
	// QuirkResetMillis sends X-RateLimit-Reset in Unix milliseconds.
	QuirkResetMillis Quirk = "reset-ms"
	// QuirkNoChunked refuses a request body without Content-Length (411).
	QuirkNoChunked Quirk = "no-chunked"
	// QuirkProxy413 refuses a request body over Options.ProxyMaxBody with
	// an HTML 413 page.
	QuirkProxy413 Quirk = "proxy-413"
	// QuirkStatus200 answers submissions 200 instead of 202.
	QuirkStatus200 Quirk = "status-200"
	// QuirkNestedWebhook puts the ids of a webhook payload under "data".
	QuirkNestedWebhook Quirk = "nested-webhook"
	// QuirkEmptyTest answers POST /v1/webhooks/:id/test 204 with no body.
	QuirkEmptyTest Quirk = "empty-test"
	// QuirkProxy404 answers a fraction of requests with an HTML 404 page
	// from a proxy (a load balancer routing to a backend that is not ready,
	// during a deploy) before they reach the API.
	QuirkProxy404 Quirk = "proxy-404"
	// QuirkMangleNames takes a file whose name holds a control character
	// and echoes the name with U+FFFD in its place, where by default the
	// submission is refused with 400 INVALID_PAYLOAD.
	QuirkMangleNames Quirk = "mangle-names"
)

// proxyFailFraction is the share of requests QuirkProxy5xx (and
// QuirkProxy404) answers itself.
const proxyFailFraction = 0.1

// DefaultProxyMaxBody is the request body limit of QuirkProxy413.
const DefaultProxyMaxBody = 8 << 20

// AllQuirks returns every quirk, in the documented order.
func AllQuirks() []Quirk {
	return []Quirk{QuirkShuffle, QuirkExtraFields, QuirkProxy5xx, QuirkCacheErrors, QuirkRetryAfter,
		QuirkResetMillis, QuirkNoChunked, QuirkProxy413, QuirkStatus200, QuirkNestedWebhook, QuirkEmptyTest, QuirkProxy404, QuirkMangleNames}
}

// QuirkNames lists every quirk's name, comma-separated (for help texts).
func QuirkNames() string { return quirkNames() }

func quirkNames() string {
	var s []string
	for _, q := range AllQuirks() {
		s = append(s, string(q))
	}
	return strings.Join(s, ", ")
}

// ParseQuirks reads a comma-separated list of quirk names; "all" stands for
// every quirk. An empty list is no quirk.
func ParseQuirks(list string) ([]Quirk, error) {
	var out []Quirk
	for _, f := range strings.Split(list, ",") {
		name := strings.TrimSpace(strings.ToLower(f))
		switch {
		case name == "":
			continue
		case name == "all":
			out = append(out, AllQuirks()...)
		case slices.Contains(AllQuirks(), Quirk(name)):
			out = append(out, Quirk(name))
		default:
			return nil, fmt.Errorf("unknown quirk %q: use all or any of %s", f, quirkNames())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// quirkSet is the validated Options.Quirks.
type quirkSet map[Quirk]bool

func newQuirkSet(qs []Quirk) (quirkSet, error) {
	s := quirkSet{}
	for _, q := range qs {
		if !slices.Contains(AllQuirks(), q) {
			return nil, fmt.Errorf("emulator: unknown quirk %q: use any of %s", q, quirkNames())
		}
		s[q] = true
	}
	return s, nil
}

// Quirks returns the quirks the emulator plays, sorted.
func (e *Emulator) Quirks() []Quirk {
	var out []Quirk
	for q := range e.quirks {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

func (e *Emulator) quirk(q Quirk) bool { return e.quirks[q] }

// proxyPage writes the HTML error page a reverse proxy sends.
func proxyPage(w http.ResponseWriter, status int) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	h := w.Header()
	for _, k := range []string{"Content-Type", "Idempotent-Replayed"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
}

// proxyGate plays the request-side quirks of a proxy in front of the API:
// 411 for a body without a length, 413 for a body over the limit, and a
// 502, 504 or 404 before the request reaches the API. It reports whether the request
// may go on; after504 asks for a 504 once the API has done the work.
func (e *Emulator) proxyGate(w http.ResponseWriter, r *http.Request, submission bool) (ok, after504 bool) {
	if e.quirk(QuirkNoChunked) && r.ContentLength < 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		proxyPage(w, http.StatusLengthRequired)
		return false, false
	}
	if e.quirk(QuirkProxy413) {
		limit := e.opts.ProxyMaxBody
		if r.ContentLength > limit {
			_, _ = io.Copy(io.Discard, r.Body)
			proxyPage(w, http.StatusRequestEntityTooLarge)
			return false, false
		}
		if r.ContentLength < 0 {
			// A proxy buffers a body of unknown length to check it.
			b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil || int64(len(b)) > limit {
				_, _ = io.Copy(io.Discard, r.Body)
				proxyPage(w, http.StatusRequestEntityTooLarge)
				return false, false
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	if e.quirk(QuirkProxy5xx) && e.chance(proxyFailFraction) {
		e.count(func(i *Injected) { i.ProxyErrors++ })
		if submission && e.chance(0.5) {
			return true, true
		}
		_, _ = io.Copy(io.Discard, r.Body)
		proxyPage(w, []int{http.StatusBadGateway, http.StatusGatewayTimeout}[e.intn(2)])
		return false, false
	}
	if e.quirk(QuirkProxy404) && e.chance(proxyFailFraction) {
		e.count(func(i *Injected) { i.ProxyErrors++ })
		_, _ = io.Copy(io.Discard, r.Body)
		proxyPage(w, http.StatusNotFound)
		return false, false
	}
	return true, false
}

func (e *Emulator) intn(n int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rng.IntN(n)
}

// quirkWriter holds an answer so the body quirks can rewrite it: shuffle the
// documents, add unknown fields, or replace it with a proxy's 504.
type quirkWriter struct {
	next    http.ResponseWriter
	e       *Emulator
	replace int // a proxy status that replaces the answer; 0 keeps it
	code    int
	buf     bytes.Buffer
}

func (q *quirkWriter) Header() http.Header { return q.next.Header() }

func (q *quirkWriter) WriteHeader(code int) {
	if q.code == 0 {
		q.code = code
	}
}

func (q *quirkWriter) Write(b []byte) (int, error) {
	if q.code == 0 {
		q.code = http.StatusOK
	}
	return q.buf.Write(b)
}

// Unwrap lets the cut-connection fault reach the connection.
func (q *quirkWriter) Unwrap() http.ResponseWriter { return q.next }

// finish sends the held answer; nothing when the request was answered
// elsewhere (a proxy page) or its connection was cut.
func (q *quirkWriter) finish() {
	if q.code == 0 {
		return
	}
	if q.replace != 0 {
		proxyPage(q.next, q.replace)
		return
	}
	body := q.buf.Bytes()
	if strings.HasPrefix(q.next.Header().Get("Content-Type"), "application/json") && len(body) > 0 {
		if out, ok := q.e.rewriteJSON(body); ok {
			body = out
		}
	}
	q.next.WriteHeader(q.code)
	_, _ = q.next.Write(body)
}

// rewriteJSON applies shuffle and extra-fields to an answer body.
func (e *Emulator) rewriteJSON(body []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	e.mu.Lock()
	v = e.rewrite(v, "")
	e.mu.Unlock()
	out, err := json.Marshal(v)
	return out, err == nil
}

// opaqueKeys hold user data (the parser's fields), never touched.
var opaqueKeys = map[string]bool{"extracted_data": true, "schema": true, "fields": true}

// rewrite walks a decoded answer. Call with e.mu held (it uses e.rng).
func (e *Emulator) rewrite(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if !opaqueKeys[k] {
				x[k] = e.rewrite(c, k)
			}
		}
		if e.quirk(QuirkExtraFields) {
			x["x_request_trace"] = fmt.Sprintf("trc_%08x", e.rng.Uint32())
			x["_links"] = map[string]any{"self": nil, "note": "field not in the public docs"}
		}
		return x
	case []any:
		for i, c := range x {
			x[i] = e.rewrite(c, "")
		}
		if e.quirk(QuirkShuffle) && (key == "documents" || key == "extractions" || key == "webhooks") {
			e.rng.Shuffle(len(x), func(i, k int) { x[i], x[k] = x[k], x[i] })
		}
		return x
	}
	return v
}

// bodyQuirks reports whether answers must pass through a quirkWriter.
func (e *Emulator) bodyQuirks() bool {
	return e.quirk(QuirkShuffle) || e.quirk(QuirkExtraFields) || e.quirk(QuirkProxy5xx)
}

// nestedPayload is the QuirkNestedWebhook delivery shape.
type nestedPayload struct {
	EventID   string     `json:"event_id"`
	Event     string     `json:"event"`
	CreatedAt string     `json:"created_at"`
	Test      bool       `json:"test,omitempty"`
	Data      nestedData `json:"data"`
}

type nestedData struct {
	ExtractionID string `json:"extraction_id"`
	ParserID     string `json:"parser_id"`
	Status       string `json:"status"`
	DocumentID   string `json:"document_id,omitempty"`
}
