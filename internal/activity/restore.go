package activity

import "time"

// CreditSample is a credit balance seen at a moment.
type CreditSample struct {
	At      time.Time
	Balance int
}

// Restore fills the recorder with history kept elsewhere (the state file),
// so that a restart or a reload shows the same picture: the documents and
// pages of the chart's hours, the latencies of the percentiles (at most the
// latest 1024 are kept) and the credit balance samples of the burn rate.
// Call it before recording; hours outside the chart are ignored.
func (r *Recorder) Restore(hrs []Hour, latencies []time.Duration, credits []CreditSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hrs {
		start := h.Start.Truncate(time.Hour)
		b := &r.buckets[start.Unix()/3600%hours]
		if b.start.After(start) {
			continue
		}
		if !b.start.Equal(start) {
			*b = bucket{start: start}
		}
		b.docs += h.Docs
		b.pages += h.Pages
	}
	if len(latencies) > maxLatency {
		latencies = latencies[len(latencies)-maxLatency:]
	}
	for _, d := range latencies {
		if len(r.lat) < maxLatency {
			r.lat = append(r.lat, max(d, 0))
		} else {
			r.lat[r.latNext] = max(d, 0)
		}
		r.latNext = (r.latNext + 1) % maxLatency
	}
	for _, c := range credits {
		if n := len(r.credits); n > 0 && !c.At.After(r.credits[n-1].at) {
			continue
		}
		r.credits = append(r.credits, sample{c.At, c.Balance})
	}
	r.trimCredits(r.now())
}

// CreditSamples returns the credit balance samples kept, oldest first.
func (r *Recorder) CreditSamples() []CreditSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]CreditSample, len(r.credits))
	for i, s := range r.credits {
		out[i] = CreditSample{At: s.at, Balance: s.balance}
	}
	return out
}
