// Package activity keeps the daemon's recent activity in memory: documents
// finished per hour over the last 24 hours, drop-to-result latencies, and
// credit balance samples for a burn rate and a forecast. It is small and
// bounded; nothing is persisted (a restart starts the picture afresh).
package activity

import (
	"slices"
	"sync"
	"time"
)

const (
	hours      = 24
	maxLatency = 1024             // latest latencies kept for the percentiles
	maxCredits = 24 * 60          // one balance sample per minute over a day
	minBurnFor = 30 * time.Minute // a burn rate needs at least this much history
)

// Recorder is the ring buffers. The zero value is not usable; use New.
type Recorder struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets [hours]bucket
	lat     []time.Duration
	latNext int
	credits []sample
	hist    histogram
}

// LatencyBuckets are the upper bounds, in seconds, of the drop-to-result
// latency histogram (the last bucket, +Inf, is implied).
var LatencyBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600}

// histogram counts every latency recorded since start, per bucket.
type histogram struct {
	counts [13]uint64 // len(LatencyBuckets)+1, the last for +Inf
	sum    float64
	n      uint64
}

// Histogram is the drop-to-result latency since start, in the shape
// Prometheus expects: Buckets maps each upper bound to the cumulative count.
type Histogram struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
}

type bucket struct {
	start time.Time // the hour this bucket counts; zero when unused
	docs  int
	pages int
}

type sample struct {
	at      time.Time
	balance int
}

// New makes a recorder. now is the clock (nil means time.Now).
func New(now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{now: now}
}

// Result records one finished document: latency is the time from the file's
// arrival (first seen) to its result being written; pages is what it cost.
func (r *Recorder) Result(latency time.Duration, pages int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.now().Truncate(time.Hour)
	b := &r.buckets[h.Unix()/3600%hours]
	if !b.start.Equal(h) {
		*b = bucket{start: h}
	}
	b.docs++
	b.pages += pages
	if latency < 0 {
		latency = 0
	}
	if len(r.lat) < maxLatency {
		r.lat = append(r.lat, latency)
	} else {
		r.lat[r.latNext] = latency
	}
	r.latNext = (r.latNext + 1) % maxLatency
	secs := latency.Seconds()
	i, _ := slices.BinarySearch(LatencyBuckets, secs)
	r.hist.counts[i]++
	r.hist.sum += secs
	r.hist.n++
}

// LatencyHistogram returns every latency recorded since start.
func (r *Recorder) LatencyHistogram() Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := Histogram{Count: r.hist.n, Sum: r.hist.sum, Buckets: make(map[float64]uint64, len(LatencyBuckets))}
	var cum uint64
	for i, le := range LatencyBuckets {
		cum += r.hist.counts[i]
		h.Buckets[le] = cum
	}
	return h
}

// Credits records the balance the API last reported.
func (r *Recorder) Credits(balance int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	// Within a minute of the one before last, the last sample moves forward
	// instead of a new one being added: at most about one sample a minute.
	if n := len(r.credits); n > 1 && now.Sub(r.credits[n-2].at) < time.Minute {
		r.credits[n-1] = sample{now, balance}
		return
	}
	r.credits = append(r.credits, sample{now, balance})
	r.trimCredits(now)
}

func (r *Recorder) trimCredits(now time.Time) {
	cut := 0
	for cut < len(r.credits) && now.Sub(r.credits[cut].at) > hours*time.Hour {
		cut++
	}
	if len(r.credits)-cut > maxCredits {
		cut = len(r.credits) - maxCredits
	}
	if cut > 0 {
		r.credits = slices.Delete(r.credits, 0, cut)
	}
}

// Hour is one hour of the throughput chart.
type Hour struct {
	Start time.Time `json:"start"`
	Docs  int       `json:"docs"`
	Pages int       `json:"pages"`
}

// Snapshot is the activity at one moment, ready to draw.
type Snapshot struct {
	// Hours are the last 24 hours, oldest first, the current hour last.
	Hours []Hour `json:"hours"`
	// LatencySamples is how many results the percentiles are taken over.
	LatencySamples int     `json:"latency_samples"`
	LatencyP50     float64 `json:"latency_p50_seconds"`
	LatencyP95     float64 `json:"latency_p95_seconds"`
	// Credits is the last balance seen (nil before the first).
	Credits *int `json:"credits,omitempty"`
	// BurnPerDay is the credits spent per day over the recorded window (at
	// most 24 h; top-ups are not counted as negative spending). Nil until
	// there is enough history.
	BurnPerDay *float64 `json:"burn_per_day,omitempty"`
	// BurnWindow is the history the burn rate is measured over.
	BurnWindowHours float64 `json:"burn_window_hours"`
	// RunsOutInDays is Credits / BurnPerDay, nil when nothing is spent.
	RunsOutInDays *float64 `json:"runs_out_in_days,omitempty"`
}

// Snapshot returns the current picture.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var s Snapshot
	cur := now.Truncate(time.Hour)
	for i := hours - 1; i >= 0; i-- {
		h := cur.Add(-time.Duration(i) * time.Hour)
		hr := Hour{Start: h}
		if b := r.buckets[h.Unix()/3600%hours]; b.start.Equal(h) {
			hr.Docs, hr.Pages = b.docs, b.pages
		}
		s.Hours = append(s.Hours, hr)
	}
	if n := len(r.lat); n > 0 {
		sorted := slices.Clone(r.lat)
		slices.Sort(sorted)
		s.LatencySamples = n
		s.LatencyP50 = percentile(sorted, 50).Seconds()
		s.LatencyP95 = percentile(sorted, 95).Seconds()
	}
	r.trimCredits(now)
	if n := len(r.credits); n > 0 {
		last := r.credits[n-1].balance
		s.Credits = &last
		window := now.Sub(r.credits[0].at)
		s.BurnWindowHours = window.Hours()
		if window >= minBurnFor {
			spent := 0
			for i := 1; i < n; i++ {
				if d := r.credits[i-1].balance - r.credits[i].balance; d > 0 {
					spent += d
				}
			}
			burn := float64(spent) / window.Hours() * 24
			s.BurnPerDay = &burn
			if burn > 0 {
				days := float64(last) / burn
				s.RunsOutInDays = &days
			}
		}
	}
	return s
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
