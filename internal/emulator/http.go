package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

type routeFunc func(w http.ResponseWriter, r *http.Request, key string)

func (e *Emulator) routes() {
	e.mux = http.NewServeMux()
	e.routeOf = map[string]string{}
	h := func(route string, f routeFunc) {
		pattern := strings.NewReplacer(":doc_id", "{doc_id}", ":id", "{id}").Replace(route)
		e.routeOf[pattern] = route
		e.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f(w, r, r.Header.Get(apitypes.HeaderAPIKey))
		})
	}
	h("GET /v1/me", e.getMe)
	h("GET /v1/credits", e.getCredits)
	h("GET /v1/parsers", e.listParsers)
	h("POST /v1/parsers", e.createParser)
	h("GET /v1/parsers/:id", e.getParser)
	h("PATCH /v1/parsers/:id", e.patchParser)
	h("POST /v1/parsers/:id/detect-fields", e.detectFields)
	h("POST /v1/extractions", e.submit)
	h("GET /v1/extractions", e.listExtractions)
	h("GET /v1/extractions/:id", e.getExtraction)
	h("GET /v1/extractions/:id/results", e.getResults)
	h("GET /v1/extractions/:id/export", e.exportExtraction)
	h("GET /v1/extractions/:id/documents/:doc_id", e.getDocument)
	h("GET /v1/extractions/:id/documents/:doc_id/export", e.exportDocument)
	h("GET /v1/webhooks", e.listWebhooks)
	h("POST /v1/webhooks", e.createWebhook)
	h("GET /v1/webhooks/:id", e.getWebhook)
	h("PATCH /v1/webhooks/:id", e.patchWebhook)
	h("DELETE /v1/webhooks/:id", e.deleteWebhook)
	h("POST /v1/webhooks/:id/test", e.testWebhook)
	e.mux.HandleFunc("GET /_emulator/stats", e.emuStats)
	e.mux.HandleFunc("POST /_emulator/credits", e.emuCredits)
}

// statusWriter records the status for the stats.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to cut it).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ServeHTTP authenticates, rate-limits, injects faults and dispatches.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		if !e.keyOK(r.Header.Get(apitypes.HeaderAPIKey)) {
			writeErr(w, http.StatusUnauthorized, apitypes.CodeUnauthorized, "Invalid or missing API key.")
			return
		}
		e.mux.ServeHTTP(w, r)
		return
	}
	_, pattern := e.mux.Handler(r)
	route, matched := e.routeOf[pattern]
	if !matched {
		route = r.Method + " (unmatched)"
	}
	// The server's own clock (net/http would send the machine's).
	w.Header().Set("Date", e.now().UTC().Format(http.TimeFormat))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		e.mu.Lock()
		e.stats.RequestsTotal++
		e.stats.Requests[route]++
		e.stats.Responses[fmt.Sprint(sw.status)]++
		e.mu.Unlock()
	}()
	delay := e.opts.Latency
	if e.opts.SlowRate > 0 && e.chance(e.opts.SlowRate) {
		delay += e.opts.SlowDelay
		e.count(func(i *Injected) { i.Slow++ })
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			sw.status = 499 // client went away
			return
		}
	}
	var next http.ResponseWriter = sw
	if e.bodyQuirks() {
		q := &quirkWriter{next: sw, e: e}
		defer q.finish()
		next = q
	}
	ok, after504 := e.proxyGate(sw, r, route == "POST /v1/extractions")
	if !ok {
		return
	}
	if after504 {
		next.(*quirkWriter).replace = http.StatusGatewayTimeout
	}
	e.serveAPI(next, r, pattern, route)
}

// serveAPI is the API behind any proxy: key, limits, faults, handler.
func (e *Emulator) serveAPI(sw http.ResponseWriter, r *http.Request, pattern, route string) {
	key := r.Header.Get(apitypes.HeaderAPIKey)
	if !e.keyOK(key) {
		writeErr(sw, http.StatusUnauthorized, apitypes.CodeUnauthorized, "Invalid or missing API key.")
		return
	}
	if !e.admit(sw, key, route == "POST /v1/extractions") {
		return
	}
	if e.opts.FailRate > 0 && e.chance(e.opts.FailRate) {
		e.count(func(i *Injected) { i.Failed++ })
		writeErr(sw, http.StatusInternalServerError, "INTERNAL_ERROR", "Injected failure (emulator --fail-rate).")
		return
	}
	if pattern == "" {
		writeErr(sw, http.StatusNotFound, apitypes.CodeResourceNotFound, "No such endpoint: "+r.Method+" "+r.URL.Path)
		return
	}
	if e.opts.GarbleRate > 0 && e.chance(e.opts.GarbleRate) {
		e.count(func(i *Injected) { i.Garbled++ })
		g := &garbleWriter{next: sw}
		e.mux.ServeHTTP(g, r)
		g.finish()
		return
	}
	e.mux.ServeHTTP(sw, r)
}

// garbleWriter holds the answer and, for a success, sends half its body:
// the malformed JSON a broken proxy or a cut stream produces.
type garbleWriter struct {
	next http.ResponseWriter
	code int
	buf  []byte
}

func (g *garbleWriter) Header() http.Header { return g.next.Header() }

// Unwrap lets the cut-connection fault reach the connection.
func (g *garbleWriter) Unwrap() http.ResponseWriter { return g.next }

func (g *garbleWriter) WriteHeader(code int) { g.code = code }

func (g *garbleWriter) Write(b []byte) (int, error) {
	if g.code == 0 {
		g.code = http.StatusOK
	}
	g.buf = append(g.buf, b...)
	return len(b), nil
}

func (g *garbleWriter) finish() {
	if g.code == 0 {
		g.code = http.StatusOK
	}
	body := g.buf
	if g.code >= 200 && g.code < 300 && len(body) > 2 {
		body = body[:len(body)/2]
	}
	g.next.WriteHeader(g.code)
	_, _ = g.next.Write(body)
}

func (e *Emulator) chance(p float64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rng.Float64() < p
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(apitypes.ErrorEnvelope{Error: apitypes.ErrorBody{Code: code, Message: msg}})
	writeRaw(w, status, b)
}
