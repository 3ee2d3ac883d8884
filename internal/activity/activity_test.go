package activity

import (
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 10, 30, 0, 0, time.UTC)} }

func TestHoursCountPerHourAndForgetOldOnes(t *testing.T) {
	c := newClock()
	r := New(c.now)
	r.Result(time.Second, 3)
	r.Result(time.Second, 2)
	c.add(time.Hour)
	r.Result(time.Second, 1)
	s := r.Snapshot()
	if len(s.Hours) != 24 {
		t.Fatalf("hours = %d, want 24", len(s.Hours))
	}
	last, prev := s.Hours[23], s.Hours[22]
	if last.Docs != 1 || last.Pages != 1 || prev.Docs != 2 || prev.Pages != 5 {
		t.Fatalf("last two hours = %+v %+v, want 1 doc/1 page then 2 docs/5 pages", prev, last)
	}
	if !last.Start.Equal(time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("current hour starts %v", last.Start)
	}
	// A day later the same ring slots are reused: the old counts must not show.
	c.add(24 * time.Hour)
	r.Result(time.Second, 7)
	s = r.Snapshot()
	total := 0
	for _, h := range s.Hours {
		total += h.Docs
	}
	if total != 1 || s.Hours[23].Pages != 7 {
		t.Fatalf("after a day: total docs %d, current %+v; want only the new result", total, s.Hours[23])
	}
}

func TestLatencyPercentiles(t *testing.T) {
	tests := []struct {
		name     string
		secs     []int
		p50, p95 float64
	}{
		{"one", []int{4}, 4, 4},
		{"hundred", seq(1, 100), 50, 95},
		{"unsorted", []int{9, 1, 5, 3, 7}, 5, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(newClock().now)
			for _, s := range tt.secs {
				r.Result(time.Duration(s)*time.Second, 1)
			}
			s := r.Snapshot()
			if s.LatencyP50 != tt.p50 || s.LatencyP95 != tt.p95 || s.LatencySamples != len(tt.secs) {
				t.Fatalf("p50 %v p95 %v n %d; want %v %v %d", s.LatencyP50, s.LatencyP95, s.LatencySamples, tt.p50, tt.p95, len(tt.secs))
			}
		})
	}
}

func TestLatencyRingIsBounded(t *testing.T) {
	r := New(newClock().now)
	for i := 0; i < maxLatency; i++ {
		r.Result(time.Hour, 1)
	}
	for i := 0; i < maxLatency; i++ {
		r.Result(time.Second, 1)
	}
	s := r.Snapshot()
	if s.LatencySamples != maxLatency || s.LatencyP95 != 1 {
		t.Fatalf("samples %d p95 %v: old latencies must be overwritten", s.LatencySamples, s.LatencyP95)
	}
}

func TestBurnRateAndForecast(t *testing.T) {
	c := newClock()
	r := New(c.now)
	r.Credits(1000)
	if s := r.Snapshot(); s.BurnPerDay != nil || s.Credits == nil || *s.Credits != 1000 {
		t.Fatalf("one sample: burn %v credits %v; want no burn yet, 1000 credits", s.BurnPerDay, s.Credits)
	}
	// Spend 10 credits an hour for 6 hours, with a top-up of 500 in between.
	bal := 1000
	for i := 0; i < 6; i++ {
		if i == 2 {
			c.add(30 * time.Minute)
			bal += 500
			r.Credits(bal)
			c.add(30 * time.Minute)
		} else {
			c.add(time.Hour)
		}
		bal -= 10
		r.Credits(bal)
	}
	s := r.Snapshot()
	if s.BurnPerDay == nil || *s.BurnPerDay != 240 {
		t.Fatalf("burn = %v, want 240 a day (top-ups not counted)", s.BurnPerDay)
	}
	if s.RunsOutInDays == nil || *s.RunsOutInDays != float64(bal)/240 {
		t.Fatalf("runs out in %v days, want %v", s.RunsOutInDays, float64(bal)/240)
	}
	// Samples older than a day drop out; with no spending since, no forecast.
	c.add(25 * time.Hour)
	r.Credits(bal)
	c.add(time.Hour)
	r.Credits(bal)
	s = r.Snapshot()
	if s.BurnPerDay == nil || *s.BurnPerDay != 0 || s.RunsOutInDays != nil {
		t.Fatalf("idle day: burn %v, runs out %v; want 0 and no forecast", s.BurnPerDay, s.RunsOutInDays)
	}
}

func TestCreditSamplesAreBounded(t *testing.T) {
	c := newClock()
	r := New(c.now)
	for i := 0; i < 10000; i++ {
		c.add(time.Second)
		r.Credits(100000 - i)
	}
	r.mu.Lock()
	n := len(r.credits)
	r.mu.Unlock()
	if n > 10000/55 {
		t.Fatalf("%d samples kept for 10000 s of one-per-second updates; want about one a minute", n)
	}
	s := r.Snapshot()
	// 9999 credits spent in 9999 s: about 86400 a day.
	if s.BurnPerDay == nil || *s.BurnPerDay < 86000 || *s.BurnPerDay > 86800 {
		t.Fatalf("burn = %v, want about 86400 a day", s.BurnPerDay)
	}
}

func seq(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

func TestLatencyHistogramIsCumulativeAndKeepsEverything(t *testing.T) {
	r := New(newClock().now)
	// 0.5 s and exactly 1 s fall in le=1; 1.5 s in le=2; 2 h only in +Inf.
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Hour} {
		r.Result(d, 1)
	}
	// More results than the percentile ring holds are still counted.
	for i := 0; i < maxLatency; i++ {
		r.Result(45*time.Second, 1)
	}
	h := r.LatencyHistogram()
	want := map[float64]uint64{1: 2, 2: 3, 5: 3, 30: 3, 60: 3 + maxLatency, 3600: 3 + maxLatency}
	for le, n := range want {
		if h.Buckets[le] != n {
			t.Errorf("bucket le=%v: %d, want %d", le, h.Buckets[le], n)
		}
	}
	if h.Count != 4+maxLatency {
		t.Errorf("count %d, want %d", h.Count, 4+maxLatency)
	}
	if wantSum := 0.5 + 1 + 1.5 + 7200 + 45*float64(maxLatency); h.Sum != wantSum {
		t.Errorf("sum %v, want %v", h.Sum, wantSum)
	}
	if len(h.Buckets) != len(LatencyBuckets) {
		t.Errorf("%d buckets, want %d", len(h.Buckets), len(LatencyBuckets))
	}
}
