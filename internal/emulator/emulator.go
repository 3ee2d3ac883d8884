// Package emulator is a local PerfectParser server that follows the
// documented contract (and the project's decisions where the docs are
// silent). Tests, the demo and users' own integration tests run against it.
// It shares nothing with the client but the JSON types of internal/apitypes.
package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// Options configures an Emulator. Zero values take the defaults in brackets.
type Options struct {
	// APIKeys accepted in X-API-Key [pp_test_local].
	APIKeys []string
	// Credits is the starting balance [1000]; NoCredits starts at zero.
	Credits int
	// ProcessingTime is the work per page [300ms].
	ProcessingTime time.Duration
	// Workers is how many documents are processed at once [32].
	Workers int
	// RateWindow is the length of one fixed rate-limit window [1m]; the
	// documented 150 requests and 20 submissions apply per window.
	RateWindow time.Duration
	// RequestsPerWindow [150] and SubmissionsPerWindow [20].
	RequestsPerWindow    int
	SubmissionsPerWindow int
	// FailRate is the fraction of API requests answered 500 before any work.
	FailRate float64
	// Latency is added before every API answer.
	Latency time.Duration
	// CutRate is the fraction of accepted submissions whose connection is
	// cut after the job was created and charged, before the answer is sent.
	CutRate float64
	// GarbleRate is the fraction of successful answers whose JSON body is cut
	// in half after the work was done (a submission is then charged).
	GarbleRate float64
	// SlowRate is the fraction of API requests held SlowDelay before any work
	// (to outlast a client's timeout).
	SlowRate  float64
	SlowDelay time.Duration
	// WebhookDropRate is the fraction of webhook deliveries silently lost.
	WebhookDropRate float64
	// WebhookDelay is added before each webhook delivery.
	WebhookDelay time.Duration
	// MaxFileSize per uploaded file [100 MiB].
	MaxFileSize int64
	// Seed makes fault injection repeatable (0: random).
	Seed uint64
	// TempDir holds uploads while they are analysed [os.TempDir()].
	TempDir string
	Logger  *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
	// Quirks are the alternative readings of the docs to play (see
	// quirks.go); none by default. New panics on a value that is not one of
	// AllQuirks: use ParseQuirks for user input.
	Quirks []Quirk
	// ProxyMaxBody is the request body limit of QuirkProxy413 [8 MiB].
	ProxyMaxBody int64
}

// NoCredits as Options.Credits starts the account with an empty balance.
const NoCredits = -1

// Emulator is the in-memory server. It is an http.Handler.
type Emulator struct {
	opts    Options
	quirks  quirkSet
	log     *slog.Logger
	mux     *http.ServeMux
	routeOf map[string]string // mux pattern -> "METHOD /route"
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	hooks   http.Client

	mu          sync.Mutex
	rng         *rand.Rand
	credits     int
	seq         int
	parsers     map[string]*parser
	parserOrder []string
	jobs        map[string]*job
	idem        map[string]*idemEntry
	windows     map[string]*window
	webhooks    map[string]*webhook
	hookOrder   []string
	samples     map[string]int // sample file id -> pages
	stats       Stats
	queue       []*doc
	queueCond   *sync.Cond
	injected    Injected
}

// Injected counts the faults the emulator injected (not part of the stats
// endpoint, whose fields are fixed).
type Injected struct {
	Failed, Cut, Garbled, Slow, WebhooksDropped int
	// ProxyErrors counts QuirkProxy5xx answers; CachedErrors counts error
	// answers replayed under QuirkCacheErrors.
	ProxyErrors, CachedErrors int
}

// Injected returns the faults injected so far.
func (e *Emulator) Injected() Injected {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.injected
}

func (e *Emulator) count(f func(*Injected)) {
	e.mu.Lock()
	f(&e.injected)
	e.mu.Unlock()
}

// Stats is GET /_emulator/stats.
type Stats struct {
	RequestsTotal      int            `json:"requests_total"`
	Requests           map[string]int `json:"requests"`
	Responses          map[string]int `json:"responses"`
	RateLimited        int            `json:"rate_limited"`
	ExtractionsCreated int            `json:"extractions_created"`
	DocumentsCreated   int            `json:"documents_created"`
	PagesCharged       int            `json:"pages_charged"`
	IdempotentReplays  int            `json:"idempotent_replays"`
	CreditsAvailable   int            `json:"credits_available"`
}

type window struct {
	start   time.Time
	global  int
	submits int
}

type idemEntry struct {
	done    chan struct{}
	created time.Time
	body    []byte // the original 202 answer; nil while in progress or after failure
	jobID   string
	// errStatus and errBody are a cached error answer (QuirkCacheErrors).
	errStatus int
	errBody   []byte
}

type parser struct {
	apitypes.Parser
	configured bool
}

type job struct {
	apitypes.Extraction
	created time.Time
	updated time.Time
	docs    []*doc
}

type doc struct {
	apitypes.Document
	job     *job
	text    []string
	fail    bool
	created time.Time
	updated time.Time
}

// New builds an emulator and starts its workers. Call Close to stop them.
func New(o Options) *Emulator {
	if len(o.APIKeys) == 0 {
		o.APIKeys = []string{"pp_test_local"}
	}
	if o.ProcessingTime <= 0 {
		o.ProcessingTime = 300 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.RequestsPerWindow <= 0 {
		o.RequestsPerWindow = 150
	}
	if o.SubmissionsPerWindow <= 0 {
		o.SubmissionsPerWindow = 20
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = 100 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.ProxyMaxBody <= 0 {
		o.ProxyMaxBody = DefaultProxyMaxBody
	}
	quirks, err := newQuirkSet(o.Quirks)
	if err != nil {
		panic(err)
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		opts:     o,
		quirks:   quirks,
		log:      o.Logger,
		ctx:      ctx,
		stop:     cancel,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		credits:  o.Credits,
		parsers:  map[string]*parser{},
		jobs:     map[string]*job{},
		idem:     map[string]*idemEntry{},
		windows:  map[string]*window{},
		webhooks: map[string]*webhook{},
		samples:  map[string]int{},
		stats:    Stats{Requests: map[string]int{}, Responses: map[string]int{}},
	}
	switch {
	case o.Credits == 0:
		e.credits = 1000
	case o.Credits < 0:
		e.credits = 0
	}
	e.queueCond = sync.NewCond(&e.mu)
	e.hooks = http.Client{Timeout: e.scaled(10 * time.Second)}
	e.seedParsers()
	e.routes()
	for range o.Workers {
		e.wg.Add(1)
		go e.worker()
	}
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		e.queueCond.Broadcast()
		e.mu.Unlock()
	}()
	return e
}

// Close stops the workers and pending webhook deliveries.
func (e *Emulator) Close() {
	e.stop()
	e.wg.Wait()
}

// scaled shrinks a documented real-world duration by the rate-window scale,
// so a test with a 2 s window also sees 2/60 of the webhook back-off.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(e.opts.RateWindow) / float64(time.Minute))
}

func (e *Emulator) now() time.Time { return e.opts.Now() }

func (e *Emulator) nextID(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s_%06d", prefix, e.seq)
}

func ts(t time.Time) string { return t.UTC().Format(apitypes.TimeFormat) }

// SetCredits sets the balance (tests top up or drain it).
func (e *Emulator) SetCredits(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.credits = max(n, 0)
}

// Stats returns a copy of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Requests = make(map[string]int, len(e.stats.Requests))
	for k, v := range e.stats.Requests {
		s.Requests[k] = v
	}
	s.Responses = make(map[string]int, len(e.stats.Responses))
	for k, v := range e.stats.Responses {
		s.Responses[k] = v
	}
	s.CreditsAvailable = e.credits
	return s
}

func (e *Emulator) seedParsers() {
	t := ts(e.now())
	desc := "Extracts vendor, invoice number, date, totals and line items from invoices"
	schema := json.RawMessage(`{"type":"object","properties":{"vendor_name":{"type":"string"},"invoice_number":{"type":"string"},"invoice_date":{"type":"string","format":"date"},"total_amount":{"type":"number"},"currency":{"type":"string"},"line_items":{"type":"array","items":{"type":"object","properties":{"description":{"type":"string"},"amount":{"type":"number"}}}}}}`)
	e.addParser(&parser{configured: true, Parser: apitypes.Parser{
		ParserID: "prs_invoice", Name: "Invoice Parser", Description: &desc, ResultMode: "one_per_file",
		Schema: schema, Fields: invoiceFields(), HasSampleFile: true, SampleFileID: "smp_invoice", CreatedAt: t, UpdatedAt: t,
	}})
	e.samples["smp_invoice"] = 1
	e.addParser(&parser{Parser: apitypes.Parser{
		ParserID: "prs_unconfigured", Name: "Unconfigured Parser", ResultMode: "one_per_file",
		Schema: json.RawMessage(`{}`), Fields: map[string]apitypes.FieldInfo{}, CreatedAt: t, UpdatedAt: t,
	}})
}

func invoiceFields() map[string]apitypes.FieldInfo {
	return map[string]apitypes.FieldInfo{
		"vendor_name":    {Description: "Name of the seller"},
		"invoice_number": {Description: "Invoice number"},
		"invoice_date":   {Description: "Issue date (YYYY-MM-DD)"},
		"total_amount":   {Description: "Total due"},
		"currency":       {Description: "ISO currency code"},
		"line_items":     {Description: "Description and amount of each line"},
	}
}

func (e *Emulator) addParser(p *parser) {
	e.parsers[p.ParserID] = p
	e.parserOrder = append(e.parserOrder, p.ParserID)
}

// --- HTTP plumbing -------------------------------------------------------

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

func (e *Emulator) keyOK(k string) bool {
	if k == "" {
		return false
	}
	for _, a := range e.opts.APIKeys {
		if a == k {
			return true
		}
	}
	return false
}

func (e *Emulator) chance(p float64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rng.Float64() < p
}

// admit applies the fixed-window limits and sets X-RateLimit-* headers.
// Refused requests do not count against the window.
func (e *Emulator) admit(w http.ResponseWriter, key string, submission bool) bool {
	e.mu.Lock()
	now := e.now()
	start := now.Truncate(e.opts.RateWindow)
	win := e.windows[key]
	if win == nil || !win.start.Equal(start) {
		win = &window{start: start}
		e.windows[key] = win
	}
	reset := start.Add(e.opts.RateWindow)
	limit, used := e.opts.RequestsPerWindow, win.global
	ok := win.global < e.opts.RequestsPerWindow
	if submission {
		if win.submits >= e.opts.SubmissionsPerWindow {
			ok = false
		}
		// On submissions the headers report the tighter submission bucket.
		limit, used = e.opts.SubmissionsPerWindow, win.submits
	}
	if ok {
		win.global++
		if submission {
			win.submits++
		}
		used++
	} else {
		e.stats.RateLimited++
	}
	e.mu.Unlock()
	h := w.Header()
	h.Set(apitypes.HeaderRateLimit, fmt.Sprint(limit))
	h.Set(apitypes.HeaderRateRemaining, fmt.Sprint(max(limit-used, 0)))
	// Unix seconds, rounded up so a client never wakes before the reset.
	resetSecs := (reset.UnixNano() + int64(time.Second) - 1) / int64(time.Second)
	switch {
	case !ok && e.quirk(QuirkRetryAfter):
		h.Set("Retry-After", fmt.Sprint(max(resetSecs-now.Unix(), 1)))
	case e.quirk(QuirkResetMillis):
		h.Set(apitypes.HeaderRateReset, fmt.Sprint(reset.UnixMilli()))
	default:
		h.Set(apitypes.HeaderRateReset, fmt.Sprint(resetSecs))
	}
	if !ok {
		msg := "More than 150 requests per minute."
		if submission {
			msg = "More than 20 extraction submissions per minute."
		}
		writeErr(w, http.StatusTooManyRequests, apitypes.CodeRateLimited, msg)
	}
	return ok
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

// --- account --------------------------------------------------------------

func (e *Emulator) getMe(w http.ResponseWriter, _ *http.Request, key string) {
	e.mu.Lock()
	c := e.credits
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, apitypes.UserEnvelope{User: apitypes.User{
		UserID: "usr_emulator", Email: "emulator@localhost", Name: "PerfectParser Emulator",
		CreditsAvailable: c, KeyName: "Emulator key " + keyHint(key), MemberSince: "2026-01-15T08:00:00.000Z",
	}})
}

// keyHint shows the last four characters of a key, never the whole key.
func keyHint(k string) string {
	if len(k) <= 4 {
		return "…"
	}
	return "…" + k[len(k)-4:]
}

func (e *Emulator) getCredits(w http.ResponseWriter, _ *http.Request, _ string) {
	e.mu.Lock()
	c := e.credits
	e.mu.Unlock()
	exp := "2027-06-01T00:00:00.000Z"
	writeJSON(w, http.StatusOK, apitypes.CreditsEnvelope{Credits: apitypes.Credits{
		Available: c,
		Purchases: []apitypes.Purchase{{PurchaseID: "pur_emulator", Plan: "popular", Credits: max(c, 1000), Remaining: c,
			ExpiresAt: &exp, PurchasedAt: "2026-06-01T12:00:00.000Z"}},
	}})
}

func (e *Emulator) emuStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, e.Stats())
}

func (e *Emulator) emuCredits(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Credits *int `json:"credits"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil || in.Credits == nil {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, `body must be {"credits": N}`)
		return
	}
	e.SetCredits(*in.Credits)
	e.emuStats(w, r)
}

// --- pagination helpers ---------------------------------------------------

func pageLimit(r *http.Request, def int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		return 0, false
	}
	return min(n, 100), true
}

// offsetPage pages a fixed ordering with an opaque offset cursor.
func offsetPage[T any](items []T, r *http.Request, def int) ([]T, apitypes.Pagination, bool) {
	limit, ok := pageLimit(r, def)
	if !ok {
		return nil, apitypes.Pagination{}, false
	}
	off := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, ok := decodeCursorOffset(c)
		if !ok {
			return nil, apitypes.Pagination{}, false
		}
		off = n
	}
	off = min(off, len(items))
	end := min(off+limit, len(items))
	p := apitypes.Pagination{Limit: limit, HasNextPage: end < len(items)}
	if p.HasNextPage {
		c := encodeCursorOffset(end)
		p.NextCursor = &c
	}
	return items[off:end], p, true
}

func sortJobs(js []*job) {
	sort.Slice(js, func(i, k int) bool {
		if !js[i].updated.Equal(js[k].updated) {
			return js[i].updated.After(js[k].updated)
		}
		return js[i].ExtractionID > js[k].ExtractionID
	})
}
