// Package api is the PerfectParser client: typed calls for the endpoints
// ppsync uses, both rate limiters, retries and error decoding. It knows
// nothing about files, folders or the state store.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/netutil"
)

// DefaultBaseURL is the production API.
const DefaultBaseURL = "https://api.perfectparser.com"

// Options configures a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL string
	APIKey  string
	// UserAgent is sent on every request, e.g. "ppsync/1.2.3".
	UserAgent string
	// RequestsPerWindow (150), SubmissionsPerWindow (20) and RateWindow (1m)
	// are the server's limits; the client paces itself below them.
	RequestsPerWindow    int
	SubmissionsPerWindow int
	RateWindow           time.Duration
	// RequestTimeout bounds one attempt of a non-upload call (default 30s).
	RequestTimeout time.Duration
	// UploadTimeout bounds one attempt of a submission (default 10m).
	UploadTimeout time.Duration
	// MaxRetries is how many times a retryable call is repeated (default 8).
	MaxRetries int
	// BackoffBase and BackoffMax bound the retry back-off (default 500ms, 30s).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxPause caps how long a server-requested pause is honoured (default 15m).
	MaxPause time.Duration
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// WatchHealth watches every round trip for an outage of the API (no
	// answer, or a gateway error): it is logged once when it starts and once
	// when it ends, and Client.Fault describes it meanwhile.
	WatchHealth bool
}

// Client talks to the PerfectParser API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	key     string
	ua      string
	http    *http.Client
	lim     *limits
	opts    Options
	log     *slog.Logger
	counter *Counter
	clock   *serverClock
	health  *health // nil without Options.WatchHealth
}

// Counter counts requests by "METHOD /route" and status; shared with metrics.
type Counter struct {
	mu        sync.Mutex
	byRoute   map[string]int
	byStatus  map[int]int
	byBoth    map[RouteStatus]int
	throttled int
	listeners []func(route string, status int)
}

// RouteStatus is a "METHOD /route" and an HTTP status.
type RouteStatus struct {
	Route  string
	Status int
}

// ByRouteStatus returns the count of answers per route and status.
func (c *Counter) ByRouteStatus() map[RouteStatus]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[RouteStatus]int, len(c.byBoth))
	for k, v := range c.byBoth {
		out[k] = v
	}
	return out
}

// OnResponse registers f to be called after every answered attempt.
func (c *Counter) OnResponse(f func(route string, status int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, f)
}

func (c *Counter) add(route string, status int) {
	c.mu.Lock()
	c.byRoute[route]++
	c.byStatus[status]++
	c.byBoth[RouteStatus{route, status}]++
	if status == http.StatusTooManyRequests {
		c.throttled++
	}
	ls := c.listeners
	c.mu.Unlock()
	for _, f := range ls {
		f(route, status)
	}
}

// Snapshot returns the total requests sent, per route, and the 429s seen.
func (c *Counter) Snapshot() (total int, byRoute map[string]int, rateLimited int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byRoute = make(map[string]int, len(c.byRoute))
	for k, v := range c.byRoute {
		byRoute[k] = v
		total += v
	}
	return total, byRoute, c.throttled
}

// New checks the options and builds a client. It refuses plain http:// for
// any host that is not loopback, so the key never crosses a network in clear.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("api base_url %q is not a URL: use e.g. %s", o.BaseURL, DefaultBaseURL)
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	if o.APIKey == "" {
		return nil, errors.New("no API key: set one of [api] api_key_env, api_key_file or api_key")
	}
	if o.RequestsPerWindow <= 0 {
		o.RequestsPerWindow = apitypes.MaxRequestsPerWindow
	}
	if o.SubmissionsPerWindow <= 0 {
		o.SubmissionsPerWindow = apitypes.MaxSubmissionsPerWindow
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = 10 * time.Minute
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 8
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.MaxPause <= 0 {
		o.MaxPause = 15 * time.Minute
	}
	if o.UserAgent == "" {
		o.UserAgent = "ppsync"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = o.UploadTimeout
		t.MaxIdleConnsPerHost = 16
		tr = t
	}
	var h *health
	if o.WatchHealth {
		h = &health{base: tr, url: o.BaseURL, log: o.Logger}
		tr = h
	}
	c := &Client{
		base:  u,
		key:   o.APIKey,
		ua:    o.UserAgent,
		lim:   newLimits(o.RequestsPerWindow, o.SubmissionsPerWindow, o.RateWindow),
		opts:  o,
		log:   o.Logger,
		clock: &serverClock{log: o.Logger},
		counter: &Counter{
			byRoute:  map[string]int{},
			byStatus: map[int]int{},
			byBoth:   map[RouteStatus]int{},
		},
		health: h,
	}
	c.http = &http.Client{
		Transport: tr,
		// Never follow a redirect to another host or to clear text: the key
		// header would go with it.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != u.Host {
				return fmt.Errorf("refusing redirect to another host (%s)", req.URL.Host)
			}
			if err := checkScheme(req.URL); err != nil {
				return err
			}
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return c, nil
}

func checkScheme(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("api base_url %q uses plain http:// to a non-loopback host: the API key would travel in clear text; use https://", u.Redacted())
	}
	return fmt.Errorf("api base_url %q: scheme must be https:// (or http:// for a loopback emulator)", u.Redacted())
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool { return netutil.IsLoopback(host) }

// Counter returns the request counter.
func (c *Client) Counter() *Counter { return c.counter }

// BaseURL returns the API base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// request is one logical call.
type request struct {
	method string
	path   string // with IDs
	route  string // pattern, e.g. "GET /v1/extractions/:id"
	query  url.Values
	body   func() (io.ReadCloser, string, error) // fresh body per attempt, with content type
	// submission marks POST /v1/extractions (its own limiter, longer timeout).
	submission bool
	idemKey    string
	// retry says whether the call may be repeated after an ambiguous failure
	// (network error, 5xx): true for reads and for keyed submissions.
	retry bool
}

// response is the part of an answer callers need.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) do(ctx context.Context, r request, out any) (*response, error) {
	op := r.route
	var lastErr error
	for attempt := 0; ; attempt++ {
		g, err := c.lim.wait(ctx, r.submission)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		resp, err := c.attempt(ctx, r)
		if resp != nil {
			c.lim.observe(g, resp.header, r.submission, resp.status == http.StatusTooManyRequests)
		}
		c.lim.settle(g)
		if err == nil && resp.status < 300 {
			if out != nil && resp.status != http.StatusNoContent {
				if derr := json.Unmarshal(resp.body, out); derr != nil {
					err = &Error{Op: op, StatusCode: resp.status, Code: "BAD_RESPONSE",
						Message: "answer is not the documented JSON: " + derr.Error()}
					lastErr = err
					if !r.retry || attempt >= c.opts.MaxRetries {
						return resp, err
					}
					if werr := sleep(ctx, backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax)); werr != nil {
						return nil, fmt.Errorf("%s: %w (last error: %v)", op, werr, lastErr)
					}
					continue
				}
			}
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		var wait time.Duration
		retryable := false
		if err != nil {
			// Network error, timeout, or the upload body failed.
			lastErr = fmt.Errorf("%s: %w", op, err)
			if IsSourceProblem(err) {
				return nil, err
			}
			retryable = r.retry
			wait = backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax)
		} else {
			apiErr := decodeError(op, resp.status, resp.header.Get("Content-Type"), resp.body)
			lastErr = apiErr
			switch {
			case resp.status == http.StatusTooManyRequests:
				// The server did not act on the request: always safe to repeat.
				retryable = true
				wait = c.pauseFor(resp.header, attempt)
				// A submission's headers describe the submission bucket: a 429
				// while that bucket still has room came from the request
				// bucket, which holds every call.
				onlySubmissions := r.submission && submissionBucketSpent(resp.header)
				c.lim.pause(time.Now().Add(wait), onlySubmissions)
				what := "all requests"
				if onlySubmissions {
					what = "submissions"
				}
				c.log.Warn("API rate limit reached; pausing "+what, "route", op, "pause", wait.Round(time.Millisecond))
			case resp.status >= 500 || resp.status == http.StatusRequestTimeout || apiErr.proxyNotFound():
				retryable = r.retry
				wait = backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax)
			}
		}
		if !retryable || attempt >= c.opts.MaxRetries {
			return resp, lastErr
		}
		c.log.Debug("retrying API call", "route", op, "attempt", attempt+1, "wait", wait.Round(time.Millisecond), "error", lastErr)
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w (last error: %v)", op, err, lastErr)
		}
	}
}

// IsSourceProblem reports an upload aborted because of the local file (it
// changed, vanished or could not be read while the request body was being
// written): never retried by the client, the caller decides. It says
// nothing about the API, which may never have been reached.
func IsSourceProblem(err error) bool {
	var fc *FileChangedError
	var se *SourceError
	return errors.As(err, &fc) || errors.As(err, &se)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pauseFor decides how long to hold callers after a 429: Retry-After (in
// seconds or as an HTTP date, if a proxy added one), else X-RateLimit-Reset
// (epoch seconds, epoch milliseconds or a delta, told apart by magnitude),
// else back-off. A time in the past gives back-off, never an immediate
// retry; nothing waits longer than one window (or MaxPause, if shorter),
// and a random jitter keeps paused callers from firing on the same instant.
func (c *Client) pauseFor(h http.Header, attempt int) time.Duration {
	now := time.Now()
	bo := backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax)
	d := time.Duration(-1)
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if secs, err := strconv.ParseFloat(ra, 64); err == nil {
			d = time.Duration(secs * float64(time.Second))
		} else if t, err := http.ParseTime(ra); err == nil {
			d = t.Sub(now)
		}
	}
	if d < 0 {
		if until, ok := resetTime(h, now); ok {
			d = until.Sub(now)
		}
	}
	if d <= 0 {
		d = min(bo, c.opts.RateWindow)
	}
	d = min(d, c.opts.RateWindow, c.opts.MaxPause)
	jitter := max(c.opts.BackoffBase/5, c.opts.RateWindow/50)
	d += time.Duration(rand.Int64N(int64(jitter) + 1))
	return max(d, c.opts.BackoffBase/4)
}

// resetTime reads X-RateLimit-Reset. Documented as a Unix timestamp in
// seconds; a value too large for seconds is taken as milliseconds, and a
// small one as a delta in seconds (some proxies send either).
func resetTime(h http.Header, now time.Time) (time.Time, bool) {
	v := strings.TrimSpace(h.Get(apitypes.HeaderRateReset))
	if v == "" {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	switch {
	case f < 1e9: // a delta: 1e9 s is 31 years
		return now.Add(time.Duration(f * float64(time.Second))), true
	case f >= 1e11: // milliseconds: 1e11 s would be the year 5138
		ms := int64(f)
		return time.UnixMilli(ms), true
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func (c *Client) attempt(ctx context.Context, r request) (*response, error) {
	timeout := c.opts.RequestTimeout
	if r.submission {
		timeout = c.opts.UploadTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.ReadCloser
	var ctype string
	if r.body != nil {
		var err error
		body, ctype, err = r.body()
		if err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	if sb, ok := body.(interface{ ContentLength() int64 }); ok {
		req.ContentLength = sb.ContentLength() // streamed, yet not chunked
	}
	req.Header.Set(apitypes.HeaderAPIKey, c.key)
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.idemKey != "" {
		req.Header.Set(apitypes.HeaderIdempotencyKey, r.idemKey)
	}
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		var fc *FileChangedError
		var se *SourceError
		switch {
		case errors.As(err, &fc):
			return nil, fc
		case errors.As(err, &se):
			return nil, se
		}
		return nil, err
	}
	defer resp.Body.Close()
	c.clock.observe(resp.Header, sent, time.Now())
	c.clock.toLocal(resp.Header)
	// Cap what we read: answers are small JSON documents.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.counter.add(r.route, resp.StatusCode)
	if err != nil {
		return nil, fmt.Errorf("reading answer: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// getJSON runs a retried GET.
func (c *Client) getJSON(ctx context.Context, path, route string, q url.Values, out any) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: path, route: route, query: q, retry: true}, out)
	return err
}

func jsonBody(v any) func() (io.ReadCloser, string, error) {
	return func() (io.ReadCloser, string, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, "", err
		}
		return io.NopCloser(bytes.NewReader(b)), "application/json", nil
	}
}

// Me calls GET /v1/me: the key's owner and the credit balance.
func (c *Client) Me(ctx context.Context) (apitypes.User, error) {
	var env apitypes.UserEnvelope
	err := c.getJSON(ctx, "/v1/me", "GET /v1/me", nil, &env)
	return env.User, err
}

// Credits calls GET /v1/credits.
func (c *Client) Credits(ctx context.Context) (apitypes.Credits, error) {
	var env apitypes.CreditsEnvelope
	err := c.getJSON(ctx, "/v1/credits", "GET /v1/credits", nil, &env)
	return env.Credits, err
}

// Extraction calls GET /v1/extractions/:id.
func (c *Client) Extraction(ctx context.Context, id string) (apitypes.Extraction, error) {
	var env apitypes.ExtractionEnvelope
	err := c.getJSON(ctx, "/v1/extractions/"+url.PathEscape(id), "GET /v1/extractions/:id", nil, &env)
	return env.Extraction, err
}

// Results calls GET /v1/extractions/:id/results.
func (c *Client) Results(ctx context.Context, id string) (apitypes.Extraction, error) {
	var env apitypes.ExtractionEnvelope
	err := c.getJSON(ctx, "/v1/extractions/"+url.PathEscape(id)+"/results", "GET /v1/extractions/:id/results", nil, &env)
	return env.Extraction, err
}

// Document calls GET /v1/extractions/:id/documents/:doc_id.
func (c *Client) Document(ctx context.Context, extractionID, documentID string) (apitypes.Document, error) {
	var env apitypes.DocumentEnvelope
	err := c.getJSON(ctx, "/v1/extractions/"+url.PathEscape(extractionID)+"/documents/"+url.PathEscape(documentID),
		"GET /v1/extractions/:id/documents/:doc_id", nil, &env)
	return env.Document, err
}

// Parser calls GET /v1/parsers/:id.
func (c *Client) Parser(ctx context.Context, id string) (apitypes.Parser, error) {
	var env apitypes.ParserEnvelope
	err := c.getJSON(ctx, "/v1/parsers/"+url.PathEscape(id), "GET /v1/parsers/:id", nil, &env)
	return env.Parser, err
}

// submissionBucketSpent reports a submission's 429 whose headers say the
// submission bucket itself is spent (X-RateLimit-Remaining: 0). Without
// that header the 429 may come from either bucket.
func submissionBucketSpent(h http.Header) bool {
	rem := h.Get(apitypes.HeaderRateRemaining)
	return rem != "" && strings.TrimSpace(rem) == "0"
}
