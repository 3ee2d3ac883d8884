package daemon

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/api"
)

// apiHealth watches every API round trip: an outage (no answer, or a
// gateway error) is logged once when it starts and once when it ends, and
// shown in /healthz and `ppsync status` meanwhile.
type apiHealth struct {
	base http.RoundTripper
	url  string
	log  *slog.Logger

	mu    sync.Mutex
	down  bool
	since time.Time
	cause string
}

// newAPIHealth wraps base; a nil base gets the transport the API client
// would build itself (its response-header timeout bounds an upload).
func newAPIHealth(base http.RoundTripper, url string, log *slog.Logger) *apiHealth {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 10 * time.Minute
		t.MaxIdleConnsPerHost = 16
		base = t
	}
	return &apiHealth{base: base, url: url, log: log}
}

// RoundTrip sends r and notes whether the API answered.
func (a *apiHealth) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	switch {
	case err != nil && api.IsSourceProblem(err):
		// A local file changed or vanished while its upload was being
		// written: that file's problem (the uploader names it and sends it
		// through again), no news about the API.
	case err != nil && r.Context().Err() == nil:
		a.set(true, err.Error())
	case err != nil:
		// Cancelled by ppsync itself (shutdown, a timeout of its own): no news.
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		a.set(true, fmt.Sprintf("%s answers %s", r.URL.Host, resp.Status))
	default:
		a.set(false, "")
	}
	return resp, err
}

func (a *apiHealth) set(down bool, cause string) {
	a.mu.Lock()
	was, since := a.down, a.since
	a.down, a.cause = down, cause
	if down && !was {
		a.since = time.Now()
	}
	a.mu.Unlock()
	switch {
	case down && !was:
		a.log.Error("the PerfectParser API is unreachable; files are collected and sent when it answers again (check the network, a proxy, or the API's status page)",
			"api", a.url, "error", cause)
	case !down && was:
		a.log.Info("the PerfectParser API answers again", "api", a.url, "down_for", time.Since(since).Round(time.Second))
	}
}

// fault describes the outage in progress ("" when the API answers).
func (a *apiHealth) fault() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.down {
		return ""
	}
	return fmt.Sprintf("the PerfectParser API at %s is unreachable since %s: %s", a.url, a.since.Format(time.RFC3339), a.cause)
}
