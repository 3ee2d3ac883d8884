package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/webui"
)

// Reviewer is a Source that holds results for review (GET /api/review,
// GET /api/review/{id}, POST /api/review/{id}/approve|reject, and the
// original file at GET /api/review/{id}/original).
type Reviewer interface {
	ReviewQueue() []finish.HeldItem
	ReviewItem(id string) (finish.HeldItem, error)
	Approve(ctx context.Context, id string, d finish.Decision) (string, error)
	Reject(ctx context.Context, id string, d finish.Decision) (string, error)
	// ReviewOriginal opens the held result's source file (never through
	// a link); the caller closes it.
	ReviewOriginal(id string) (*os.File, error)
}

// ReviewList is the answer of GET /api/review: the queue, oldest first.
type ReviewList struct {
	Count   int               `json:"count"`
	ByInbox map[string]int    `json:"by_inbox"`
	Oldest  *time.Time        `json:"oldest,omitempty"`
	Items   []finish.HeldItem `json:"items"`
}

// ReviewDecision is the body of POST /api/review/{id}/approve and reject.
type ReviewDecision struct {
	// Set corrects fields of extracted_data (approve only).
	Set  map[string]string `json:"set,omitempty"`
	Note string            `json:"note,omitempty"`
	// NotDuplicate approves a result held as a probable duplicate.
	NotDuplicate bool `json:"not_duplicate,omitempty"`
	// By names who decides; the credential's kind is added.
	By string `json:"by,omitempty"`
}

// ReviewAnswer is the answer of a decision: the file written.
type ReviewAnswer struct {
	ID     string `json:"id"`
	Output string `json:"output"`
}

// NewReviewList builds the queue's answer.
func NewReviewList(items []finish.HeldItem) ReviewList {
	l := ReviewList{Count: len(items), ByInbox: map[string]int{}, Items: items}
	if l.Items == nil {
		l.Items = []finish.HeldItem{}
	}
	for _, it := range items {
		l.ByInbox[it.Inbox]++
		if l.Oldest == nil || it.HeldAt.Before(*l.Oldest) {
			t := it.HeldAt
			l.Oldest = &t
		}
	}
	return l
}

func reviewRoutes(mux *http.ServeMux, reg *prometheus.Registry, src Source) {
	rv, ok := src.(Reviewer)
	if !ok {
		return
	}
	reg.MustRegister(reviewCollector{rv})
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(v)
	}
	failReview := func(w http.ResponseWriter, err error) {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, finish.ErrNotHeld):
			code = http.StatusNotFound
		case strings.Contains(err.Error(), " is a number;"), strings.Contains(err.Error(), "names no field"),
			strings.Contains(err.Error(), " is true or false;"), strings.Contains(err.Error(), "give it as JSON"):
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
	}
	mux.HandleFunc("GET /api/review", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, NewReviewList(rv.ReviewQueue()))
	})
	mux.HandleFunc("GET /api/review/{id}", func(w http.ResponseWriter, r *http.Request) {
		it, err := rv.ReviewItem(r.PathValue("id"))
		if err != nil {
			failReview(w, err)
			return
		}
		writeJSON(w, it)
	})
	mux.HandleFunc("GET /api/review/{id}/original", func(w http.ResponseWriter, r *http.Request) {
		f, err := rv.ReviewOriginal(r.PathValue("id"))
		if err != nil {
			failReview(w, err)
			return
		}
		defer f.Close()
		webui.ServeOriginal(w, r, f)
	})
	decide := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in ReviewDecision
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
				http.Error(w, `body must be {"set": {"field": "value"}, "note": "...", "not_duplicate": bool}`, http.StatusBadRequest)
				return
			}
			d := finish.Decision{By: decider(r, in.By), Set: in.Set, Note: in.Note, NotDuplicate: in.NotDuplicate}
			id := r.PathValue("id")
			var out string
			var err error
			if approve {
				out, err = rv.Approve(r.Context(), id, d)
			} else {
				out, err = rv.Reject(r.Context(), id, d)
			}
			if err != nil {
				failReview(w, err)
				return
			}
			writeJSON(w, ReviewAnswer{ID: id, Output: out})
		}
	}
	mux.HandleFunc("POST /api/review/{id}/approve", decide(true))
	mux.HandleFunc("POST /api/review/{id}/reject", decide(false))
}

// decider names who decides: the name given, and how the request was
// signed in (the CLI's bearer token or the page's session).
func decider(r *http.Request, name string) string {
	how := "status page"
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		how = "admin token"
	}
	name = strings.TrimSpace(name)
	if len(name) > 100 {
		name = name[:100]
	}
	if name == "" {
		return how
	}
	return name + " (" + how + ")"
}

// ReviewSummary sums up the review queue for the status (nil when nothing
// waits).
func ReviewSummary(items []finish.HeldItem, now time.Time) *report.Review {
	if len(items) == 0 {
		return nil
	}
	r := &report.Review{Pending: len(items)}
	counts := map[[2]string]int{}
	for _, it := range items {
		if r.Oldest.IsZero() || it.HeldAt.Before(r.Oldest) {
			r.Oldest = it.HeldAt
		}
		seen := map[string]bool{}
		for _, rs := range it.Reasons {
			if !seen[rs.Rule] {
				seen[rs.Rule] = true
				counts[[2]string{it.Inbox, rs.Rule}]++
			}
		}
	}
	r.OldestAgeSeconds = max(0, now.Sub(r.Oldest).Seconds())
	for k, n := range counts {
		r.Counts = append(r.Counts, report.ReviewCount{Inbox: k[0], Reason: k[1], Count: n})
	}
	slices.SortFunc(r.Counts, func(a, b report.ReviewCount) int {
		return cmp.Or(strings.Compare(a.Inbox, b.Inbox), strings.Compare(a.Reason, b.Reason))
	})
	return r
}

var (
	descReviewPending = prometheus.NewDesc("ppsync_review_pending", "Results held for review, by inbox and the rule that held them (a result held by two rules counts under each).", []string{"inbox", "reason"}, nil)
	descReviewOldest  = prometheus.NewDesc("ppsync_review_oldest_age_seconds", "How long the oldest result held for review has waited (0 when none).", nil, nil)
)

// reviewCollector turns the review queue into metrics at scrape time.
type reviewCollector struct{ rv Reviewer }

func (c reviewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descReviewPending
	ch <- descReviewOldest
}

func (c reviewCollector) Collect(ch chan<- prometheus.Metric) {
	s := ReviewSummary(c.rv.ReviewQueue(), time.Now())
	if s == nil {
		ch <- prometheus.MustNewConstMetric(descReviewOldest, prometheus.GaugeValue, 0)
		return
	}
	for _, n := range s.Counts {
		ch <- prometheus.MustNewConstMetric(descReviewPending, prometheus.GaugeValue, float64(n.Count), n.Inbox, n.Reason)
	}
	ch <- prometheus.MustNewConstMetric(descReviewOldest, prometheus.GaugeValue, s.OldestAgeSeconds)
}
