package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// health watches every round trip of a client made with
// Options.WatchHealth: an outage (no answer, or a gateway error) is logged
// once when it starts and once when it ends, and described by Client.Fault
// meanwhile.
type health struct {
	base http.RoundTripper
	url  string
	log  *slog.Logger

	mu    sync.Mutex
	down  bool
	since time.Time
	cause string
}

// RoundTrip sends r and notes whether the API answered.
func (a *health) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	switch {
	case err != nil && IsSourceProblem(err):
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

func (a *health) set(down bool, cause string) {
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

func (a *health) fault() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.down {
		return ""
	}
	return fmt.Sprintf("the PerfectParser API at %s is unreachable since %s: %s", a.url, a.since.Format(time.RFC3339), a.cause)
}

// Fault describes the outage of the API in progress: "" while it answers,
// and always without Options.WatchHealth.
func (c *Client) Fault() string {
	if c.health == nil {
		return ""
	}
	return c.health.fault()
}

// Transport is the HTTP transport a client sends through (Options.Transport).
type Transport = http.RoundTripper
