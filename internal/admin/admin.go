// Package admin serves the daemon's local admin endpoint: /healthz,
// /identity (which config and state the daemon serves), /status (the JSON
// of `ppsync status --json`), /metrics for Prometheus, and the operations
// of control.Control: POST /retry, POST /reprocess, POST /webhook/test and
// POST /ledger/rebuild; and holds the client the CLI talks to it with,
// which implements control.Control over those routes.
//
// Every route but /healthz (and /metrics when [admin] public_metrics is
// set) needs a credential, on loopback too: the token Serve writes to a
// file only the service account can read (config.AdminTokenFile), which
// the Client sends, a session from a one-time sign-in link, or the
// configured password or token (webui.Protect).
//
// The endpoint guards against the browser: requests naming a foreign Host
// (DNS rebinding) are refused, and every POST needs Content-Type:
// application/json (or, for the status page's own routes under /ui/, its
// request header) and no foreign Origin (a web page cannot send such a
// request without a CORS preflight, which is never granted). The daemon
// also mounts the status page at "/", see Options.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/webui"
)

// Source is the running daemon, as the admin endpoint sees it: the
// control operations it serves, and its API counters for /metrics.
type Source interface {
	control.Control
	APICounter() *api.Counter
}

// Handler builds the admin routes (and the page, when o.Page is set),
// guarded as o says.
func Handler(src Source, o Options) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{src: src, act: o.Activity})
	reg.MustRegister(o.Collectors...)
	mux := http.NewServeMux()
	if o.Page != nil {
		mux.Handle("/", o.Page)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		rep, err := src.Status(r.Context())
		if err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		bad := append([]string(nil), rep.Faults...)
		for _, in := range rep.Inboxes {
			if in.Healthy != nil && !*in.Healthy {
				bad = append(bad, fmt.Sprintf("inbox %s: %s", in.Path, in.Error))
			}
		}
		if len(bad) > 0 {
			http.Error(w, "unhealthy: "+strings.Join(bad, "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(o.Identity)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		rep, err := src.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		rep.Daemon.Config, rep.Daemon.InstanceID = o.Identity.Config, o.Identity.InstanceID
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
	mux.HandleFunc("POST /retry", func(w http.ResponseWriter, r *http.Request) {
		var in control.RetryRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, `body must be {"paths": [...], "failed": bool}`, http.StatusBadRequest)
			return
		}
		ans, err := src.Retry(r.Context(), in)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
	mux.HandleFunc("POST /reprocess", func(w http.ResponseWriter, r *http.Request) {
		var in control.ReprocessRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || len(in.Paths) == 0 {
			http.Error(w, `body must be {"paths": [...], "confirm": bool} with at least one path`, http.StatusBadRequest)
			return
		}
		var ans control.ReprocessAnswer
		var err error
		if in.Confirm {
			ans, err = src.Reprocess(r.Context(), in.Paths)
		} else {
			ans, err = src.PlanReprocess(r.Context(), in.Paths)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if ans.Reprocessed == nil {
			ans.Reprocessed = []string{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
	mux.HandleFunc("POST /webhook/test", func(w http.ResponseWriter, r *http.Request) {
		ans, err := src.WebhookTest(r.Context())
		if err != nil {
			ans = control.WebhookTestAnswer{OK: false, Message: err.Error()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
	mux.HandleFunc("POST /ledger/rebuild", func(w http.ResponseWriter, r *http.Request) {
		// A rebuild reads every result file: longer than the server's
		// write timeout allows other answers.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(rebuildTimeout))
		ans, err := src.RebuildLedgers(r.Context())
		if err != nil && len(ans.Errors) == 0 {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if ans.Rebuilt == nil {
			ans.Rebuilt = []control.LedgerRebuilt{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if o.History != nil {
		mux.HandleFunc("GET /api/history", historyHandler(o.History, time.Now))
	}
	reviewRoutes(mux, reg, src)
	return hostGuard(o, webui.Protect(guard(o, mux), o.Security))
}

// collector turns the live report and counters into metrics at scrape time.
type collector struct {
	src Source
	act *activity.Recorder
}

var (
	descFiles       = prometheus.NewDesc("ppsync_files", "Files by inbox and state.", []string{"inbox", "state"}, nil)
	descRequests    = prometheus.NewDesc("ppsync_api_requests_total", "PerfectParser API answers by route and HTTP status.", []string{"route", "code"}, nil)
	descThrottled   = prometheus.NewDesc("ppsync_api_rate_limited_total", "429 answers from the API.", nil, nil)
	descCredits     = prometheus.NewDesc("ppsync_credits_available", "Credit balance last reported by the API.", nil, nil)
	descWaiting     = prometheus.NewDesc("ppsync_waiting_for_credits", "1 while submissions wait for credits.", nil, nil)
	descQueue       = prometheus.NewDesc("ppsync_queue_depth", "Documents waiting to be submitted.", nil, nil)
	descJobs        = prometheus.NewDesc("ppsync_jobs_in_flight", "Submitted jobs waiting for results.", nil, nil)
	descWriteErrors = prometheus.NewDesc("ppsync_result_write_errors_total", "Result files that could not be written (retried).", nil, nil)
	descRescans     = prometheus.NewDesc("ppsync_watcher_rescans_total", "Full rescans of an inbox.", []string{"inbox"}, nil)
	descOverflows   = prometheus.NewDesc("ppsync_watcher_overflows_total", "File event queue overflows (each triggers a rescan).", []string{"inbox"}, nil)
	descHealthy     = prometheus.NewDesc("ppsync_inbox_healthy", "1 when the inbox is reachable.", []string{"inbox"}, nil)
	descLastPoll    = prometheus.NewDesc("ppsync_last_poll_timestamp_seconds", "Time of the last successful poll for results.", nil, nil)
	descSettling    = prometheus.NewDesc("ppsync_files_settling", "Files seen but not ready yet (still being written).", []string{"inbox"}, nil)
	descIncomplete  = prometheus.NewDesc("ppsync_files_incomplete", "Settling files still empty or without %%EOF.", []string{"inbox"}, nil)
	descBuild       = prometheus.NewDesc("ppsync_build_info", "Always 1; the labels say which ppsync runs.", []string{"version", "goversion"}, nil)
	descWebhook     = prometheus.NewDesc("ppsync_webhook_deliveries_total", "Webhook deliveries received, by result: verified, rejected (bad signature or secret, too large), dropped (queue full; polling finds them).", []string{"result"}, nil)
	descLatency     = prometheus.NewDesc("ppsync_result_latency_seconds", "Time from a file being seen in its inbox to its result or error file being written.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFiles, descRequests, descThrottled, descCredits, descWaiting, descQueue,
		descJobs, descWriteErrors, descRescans, descOverflows, descHealthy, descLastPoll, descSettling, descIncomplete, descBuild, descLatency, descWebhook} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, version.String(), runtime.Version())
	if c.act != nil {
		h := c.act.LatencyHistogram()
		ch <- prometheus.MustNewConstHistogram(descLatency, h.Count, h.Sum, h.Buckets)
	}
	counts := c.src.APICounter().ByRouteStatus()
	throttled := 0
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(v), k.Route, fmt.Sprint(k.Status))
		if k.Status == http.StatusTooManyRequests {
			throttled += v
		}
	}
	ch <- prometheus.MustNewConstMetric(descThrottled, prometheus.CounterValue, float64(throttled))
	rep, err := c.src.Status(context.Background())
	if err != nil {
		return
	}
	for _, in := range rep.Inboxes {
		for _, s := range report.States {
			ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(in.Files[s]), in.Path, s)
		}
		ch <- prometheus.MustNewConstMetric(descRescans, prometheus.CounterValue, float64(in.Rescans), in.Path)
		ch <- prometheus.MustNewConstMetric(descOverflows, prometheus.CounterValue, float64(in.Overflows), in.Path)
		ch <- prometheus.MustNewConstMetric(descSettling, prometheus.GaugeValue, float64(in.Settling), in.Path)
		ch <- prometheus.MustNewConstMetric(descIncomplete, prometheus.GaugeValue, float64(in.Incomplete), in.Path)
		healthy := 1.0
		if in.Healthy != nil && !*in.Healthy {
			healthy = 0
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, in.Path)
	}
	if h := rep.Webhook; h != nil {
		ch <- prometheus.MustNewConstMetric(descWebhook, prometheus.CounterValue, float64(h.Verified), "verified")
		ch <- prometheus.MustNewConstMetric(descWebhook, prometheus.CounterValue, float64(h.Rejected), "rejected")
		ch <- prometheus.MustNewConstMetric(descWebhook, prometheus.CounterValue, float64(h.Dropped), "dropped")
	}
	if rep.CreditsAvailable != nil {
		ch <- prometheus.MustNewConstMetric(descCredits, prometheus.GaugeValue, float64(*rep.CreditsAvailable))
	}
	waiting := 0.0
	if rep.WaitingForCredits {
		waiting = 1
	}
	ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, waiting)
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(rep.QueueDepth))
	ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(rep.JobsInFlight))
	ch <- prometheus.MustNewConstMetric(descWriteErrors, prometheus.CounterValue, float64(rep.ResultWriteErrors))
	if !rep.LastPoll.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastPoll, prometheus.GaugeValue, float64(rep.LastPoll.UnixNano())/1e9)
	}
}
