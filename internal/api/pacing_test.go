package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
)

// Every way a server or a proxy may say "wait" gives a pause that is neither
// a storm of retries nor longer than one window plus jitter.
func TestPauseAfter429HeaderVariants(t *testing.T) {
	const window = 2 * time.Second
	const slack = 300 * time.Millisecond // scheduling, and the jitter of window/50
	cases := []struct {
		name    string
		headers func(now time.Time) map[string]string
		min     time.Duration
		max     time.Duration
	}{
		{"retry-after seconds", func(time.Time) map[string]string { return map[string]string{"Retry-After": "1"} }, 950 * time.Millisecond, time.Second + slack},
		{"retry-after http date", func(now time.Time) map[string]string {
			return map[string]string{"Retry-After": now.Add(2 * time.Second).UTC().Format(http.TimeFormat)}
		}, 900 * time.Millisecond, window + slack},
		{"retry-after beyond a window", func(time.Time) map[string]string { return map[string]string{"Retry-After": "3600"} }, window - 50*time.Millisecond, window + slack},
		{"reset epoch seconds", func(now time.Time) map[string]string {
			return map[string]string{apitypes.HeaderRateReset: strconv.FormatInt(now.Add(1500*time.Millisecond).Unix(), 10)}
		}, 400 * time.Millisecond, 1500*time.Millisecond + slack},
		{"reset epoch milliseconds", func(now time.Time) map[string]string {
			return map[string]string{apitypes.HeaderRateReset: strconv.FormatInt(now.Add(700*time.Millisecond).UnixMilli(), 10)}
		}, 650 * time.Millisecond, 700*time.Millisecond + slack},
		{"reset in the past", func(now time.Time) map[string]string {
			return map[string]string{apitypes.HeaderRateReset: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}
		}, 5 * time.Millisecond, 200*time.Millisecond + slack},
		{"reset an hour away", func(now time.Time) map[string]string {
			return map[string]string{apitypes.HeaderRateReset: strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}
		}, window - 50*time.Millisecond, window + slack},
		{"nothing at all", func(time.Time) map[string]string { return nil }, 5 * time.Millisecond, 200*time.Millisecond + slack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var times []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := time.Now()
				mu.Lock()
				times = append(times, now)
				first := len(times) == 1
				mu.Unlock()
				if first {
					for k, v := range tc.headers(now) {
						w.Header().Set(k, v)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"error":{"code":"RATE_LIMITED","message":"slow down"}}`)
					return
				}
				_, _ = io.WriteString(w, `{"user":{"user_id":"u","credits_available":5}}`)
			}))
			defer srv.Close()
			pauses := &pauseRecorder{}
			c := newClient(t, srv.URL, api.Options{RateWindow: window, Logger: slog.New(pauses)})
			if _, err := c.Me(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(times) != 2 {
				t.Fatalf("server saw %d requests, want 2 (one 429, one retry)", len(times))
			}
			// The retry can only come later than the pause the client chose,
			// never earlier, however busy the machine: the lower bound holds
			// on the wall clock. The upper bound is about the client's
			// decision (the pause it logs), not about how soon a loaded
			// machine got round to the retry.
			gap := times[1].Sub(times[0])
			decided := pauses.get()
			t.Logf("pause chosen %v, seen by the server %v", decided, gap.Round(time.Millisecond))
			if len(decided) != 1 {
				t.Fatalf("the client logged %d pauses, want 1: %v", len(decided), decided)
			}
			if gap < tc.min {
				t.Fatalf("the retry came %v after the 429, want at least %v", gap, tc.min)
			}
			if decided[0] > tc.max {
				t.Fatalf("the client chose a pause of %v, want at most %v", decided[0], tc.max)
			}
		})
	}
}

// pauseRecorder keeps the pauses the client logs after a 429.
type pauseRecorder struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (p *pauseRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (p *pauseRecorder) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "API rate limit reached") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "pause" {
			p.mu.Lock()
			p.pauses = append(p.pauses, a.Value.Duration())
			p.mu.Unlock()
		}
		return true
	})
	return nil
}
func (p *pauseRecorder) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *pauseRecorder) WithGroup(string) slog.Handler      { return p }

func (p *pauseRecorder) get() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.pauses...)
}

// countingEmulator records, per server window, the submissions the emulator
// accepted.
type countingEmulator struct {
	h      http.Handler
	window time.Duration
	mu     sync.Mutex
	per    map[int64]int
	total  int
	tooMny int
	// tooMnyPer counts the 429s by window.
	tooMnyPer map[int64]int
}

func (c *countingEmulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The emulator admits a request before it reads the body: the time it
	// arrives stands for the window it is counted in.
	at := time.Now()
	sw := &codeWriter{ResponseWriter: w}
	c.h.ServeHTTP(sw, r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	if sw.code == http.StatusTooManyRequests {
		c.tooMny++
		c.tooMnyPer[at.Truncate(c.window).UnixNano()]++
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" && sw.code/100 == 2 {
		c.per[at.Truncate(c.window).UnixNano()]++
	}
}

// full returns the submission counts of the windows strictly between the
// first and the last one used.
func (c *countingEmulator) full() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lo, hi int64 = 1<<63 - 1, 0
	for k := range c.per {
		lo, hi = min(lo, k), max(hi, k)
	}
	var out []int
	for k := lo + int64(c.window); k < hi; k += int64(c.window) {
		out = append(out, c.per[k])
	}
	return out
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func startCounting(t *testing.T, window time.Duration) (*countingEmulator, string) {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{testKey}, ProcessingTime: 5 * time.Millisecond,
		RateWindow: window, Credits: 100000, TempDir: t.TempDir()})
	ce := &countingEmulator{h: emu, window: window, per: map[int64]int{}, tooMnyPer: map[int64]int{}}
	srv := httptest.NewServer(ce)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	return ce, srv.URL
}

// submitAll sends n one-file submissions from the given number of
// goroutines and fails the test on any error.
func submitAll(t *testing.T, c *api.Client, n, senders int, pdf []byte) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				name := "inv-" + strconv.FormatInt(i, 10) + ".pdf"
				if _, err := c.Submit(context.Background(), "prs_invoice", "", []api.Upload{uploadOf(name, pdf)}); err != nil {
					t.Errorf("submit %s: %v", name, err)
				}
			}
		}()
	}
	wg.Wait()
}

// One client alone on a key, against the emulator: every submission is
// accepted and no answer is a 429. That every full window holds exactly 20 is a statement about
// the pacing decisions, asserted on an injected clock in
// TestBucketAloneSpendsTheWholeWindow: here, with other packages' tests on
// the same cores, the senders may not be able to ask 20 times a second.
func TestSpendsTheWholeReportedBudget(t *testing.T) {
	const window = time.Second
	ce, url := startCounting(t, window)
	c := newClient(t, url, api.Options{RateWindow: window})
	submitAll(t, c, 90, 4, invoicePDF(t, 1, 1))
	full := ce.full()
	t.Logf("submissions per full window: %v; 429s %d", full, ce.tooMny)
	ce.mu.Lock()
	defer ce.mu.Unlock()
	accepted := 0
	for _, n := range ce.per {
		accepted += n
	}
	if accepted != 90 {
		t.Errorf("server accepted %d submissions, want 90", accepted)
	}
	if ce.tooMny != 0 {
		t.Fatalf("server answered %d × 429", ce.tooMny)
	}
}

// Without usable X-RateLimit-* headers the client keeps to the fixed
// conservative pacing (burst 1, then limit-1 per window).
func TestMissingOrContradictoryHeadersFallBack(t *testing.T) {
	cases := map[string]map[string]string{
		"missing":         nil,
		"remaining>limit": {apitypes.HeaderRateLimit: "5", apitypes.HeaderRateRemaining: "50", apitypes.HeaderRateReset: "1"},
		"reset far away":  {apitypes.HeaderRateLimit: "5", apitypes.HeaderRateRemaining: "4", apitypes.HeaderRateReset: "99999999999999"},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range hdr {
					w.Header().Set(k, v)
				}
				_, _ = io.WriteString(w, `{"user":{"user_id":"u","credits_available":5}}`)
			}))
			defer srv.Close()
			// 5 requests a window: burst 1, then 4 a second.
			c := newClient(t, srv.URL, api.Options{RateWindow: time.Second, RequestsPerWindow: 5})
			start := time.Now()
			for range 5 {
				if _, err := c.Me(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Fatalf("5 calls took %v: the fixed pacing (1 + 4 a second) was not applied", d)
			}
		})
	}
}

// Three clients on one key, not talking to each other, share the submission
// limit: together near the ceiling, almost no 429s, no submission lost.
func TestThreeClientsShareOneKey(t *testing.T) {
	const window = time.Second
	ce, url := startCounting(t, window)
	pdf := invoicePDF(t, 1, 1)
	// Enough windows that the 1 % bound means something: the first
	// requests, before the instances see each other's use, may collide.
	const each = 100
	var wg sync.WaitGroup
	clients := make([]*api.Client, 3)
	for i := range clients {
		clients[i] = newClient(t, url, api.Options{RateWindow: window})
		wg.Add(1)
		go func() {
			defer wg.Done()
			submitAll(t, clients[i], each, 3, pdf)
		}()
	}
	wg.Wait()
	full := ce.full()
	sum := 0
	for _, n := range full {
		sum += n
	}
	ce.mu.Lock()
	total, throttled := ce.total, ce.tooMny
	ce.mu.Unlock()
	t.Logf("submissions per full window: %v; requests %d, 429s %d", full, total, throttled)
	if len(full) == 0 {
		t.Fatal("no full window")
	}
	// How close together they come to the ceiling is a rate against the
	// wall clock: with other tests on the same cores the senders may not
	// keep up, so it is logged here and measured by the bench
	// (go run ./bench -scenario shared).
	t.Logf("together %.1f %% of the ceiling in full windows", 100*float64(sum)/float64(20*len(full)))
	// The 1 % target is measured by the bench (go run ./bench -scenario
	// shared) on realistic windows. How many 429s the clients meet here
	// depends on scheduling (a 1 s window leaves a 10 ms guard at each
	// reset, and the clients' predictions of each other's use are rates),
	// so what is asserted is what holds on any machine: no storm. A 429
	// holds its client until the reset, so in one window each of the 3×3
	// senders meets at most one.
	ce.mu.Lock()
	for w, n := range ce.tooMnyPer {
		if n > 9 {
			t.Errorf("%d × 429 in the window starting %v: more than one per sender, the clients do not pause",
				n, time.Unix(0, w).Format(time.StampMilli))
		}
	}
	ce.mu.Unlock()
	accepted := 0
	for _, n := range ce.per {
		accepted += n
	}
	if accepted != 3*each {
		t.Fatalf("server accepted %d submissions, want %d", accepted, 3*each)
	}
}
