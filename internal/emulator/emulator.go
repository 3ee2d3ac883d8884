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
	// ClockSkew sets the server's clock this far ahead of Now (negative:
	// behind): every time it answers with, its Date header, the since
	// filter of the list and the rate-limit resets follow it.
	ClockSkew time.Duration
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
	// ProxyErrors counts QuirkProxy5xx and QuirkProxy404 answers;
	// CachedErrors counts error
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

func (e *Emulator) now() time.Time { return e.opts.Now().Add(e.opts.ClockSkew) }

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
