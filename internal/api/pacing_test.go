package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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
			c := newClient(t, srv.URL, api.Options{RateWindow: window})
			if _, err := c.Me(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(times) != 2 {
				t.Fatalf("server saw %d requests, want 2 (one 429, one retry)", len(times))
			}
			gap := times[1].Sub(times[0])
			t.Logf("pause %v", gap.Round(time.Millisecond))
			if gap < tc.min || gap > tc.max {
				t.Fatalf("pause %v, want between %v and %v", gap, tc.min, tc.max)
			}
		})
	}
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
	ce := &countingEmulator{h: emu, window: window, per: map[int64]int{}}
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

// One client alone on a key spends all 20 submissions of every window the
// server reports, where the fixed pacing managed 19, and never sees a 429.
func TestSpendsTheWholeReportedBudget(t *testing.T) {
	const window = time.Second
	ce, url := startCounting(t, window)
	c := newClient(t, url, api.Options{RateWindow: window})
	submitAll(t, c, 90, 4, invoicePDF(t, 1, 1))
	full := ce.full()
	t.Logf("submissions per full window: %v; 429s %d", full, ce.tooMny)
	if len(full) < 2 {
		t.Fatalf("only %d full windows: %v", len(full), full)
	}
	for _, n := range full {
		if n != 20 {
			t.Fatalf("a full window held %d submissions, want 20: %v", n, full)
		}
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
	if ratio := float64(sum) / float64(20*len(full)); ratio < 0.95 {
		t.Fatalf("together %.1f %% of the ceiling in full windows, want ≥ 95 %%", 100*ratio)
	}
	// The 1 % target is measured by the bench (go run ./bench -scenario
	// shared) on realistic windows. A 1 s window leaves a 10 ms guard at
	// each reset, within the scheduling noise of -race on 2 busy cores, so
	// a request now and then lands just before the server's reset: 2 % here.
	if throttled*50 > total {
		t.Fatalf("%d × 429 among %d requests: more than 2 %%", throttled, total)
	}
	accepted := 0
	for _, n := range ce.per {
		accepted += n
	}
	if accepted != 3*each {
		t.Fatalf("server accepted %d submissions, want %d", accepted, 3*each)
	}
}
