package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// The pacing decisions, on an injected clock: a simulated fixed-window
// server and clients that ask as fast as the buckets let them. Nothing here
// depends on how fast the machine is, so the rates can be asserted exactly.

// simServer is the emulator's fixed-window limit: windows aligned to the
// window length, limit requests each, the X-RateLimit-* headers of its
// answers.
type simServer struct {
	window   time.Duration
	limit    int
	per      map[int64]int // accepted, by window start
	accepted int
	tooMany  int
}

func (s *simServer) admit(now time.Time) (http.Header, bool) {
	start := now.Truncate(s.window)
	used := s.per[start.UnixNano()]
	ok := used < s.limit
	if ok {
		used++
		s.per[start.UnixNano()] = used
		s.accepted++
	} else {
		s.tooMany++
	}
	reset := start.Add(s.window)
	h := http.Header{}
	h.Set(apitypes.HeaderRateLimit, strconv.Itoa(s.limit))
	h.Set(apitypes.HeaderRateRemaining, strconv.Itoa(max(s.limit-used, 0)))
	h.Set(apitypes.HeaderRateReset, strconv.FormatInt((reset.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
	return h, !ok
}

// full returns the accepted counts of the windows strictly between the
// first and the last one used.
func (s *simServer) full() []int {
	var lo, hi int64 = 1<<63 - 1, 0
	for k := range s.per {
		lo, hi = min(lo, k), max(hi, k)
	}
	var out []int
	for k := lo + int64(s.window); k < hi; k += int64(s.window) {
		out = append(out, s.per[k])
	}
	return out
}

// simulate runs greedy clients on one key for the given time, in
// steps of tick; each answer arrives latency after its request.
func simulate(t *testing.T, clients int, run, tick, latency time.Duration) *simServer {
	t.Helper()
	const window = time.Second
	// A start in the middle of a window, as a real start is.
	now := time.Unix(1_700_000_000, 0).Add(370 * time.Millisecond)
	clock := func() time.Time { return now }
	srv := &simServer{window: window, limit: 20, per: map[int64]int{}}
	type answer struct {
		at        time.Time
		idx       int
		h         http.Header
		throttled bool
	}
	buckets := make([]*windowBucket, clients)
	pending := make([][]answer, clients)
	fallbackAt := make([]time.Time, clients) // the fixed limiter: burst 1, then 19 a window
	pausedTo := make([]time.Time, clients)   // a 429's pause: until the reported reset
	for i := range buckets {
		buckets[i] = newWindowBucket(20, window, clock)
	}
	end := now.Add(run)
	for ; now.Before(end); now = now.Add(tick) {
		for i, b := range buckets {
			// Answers that have arrived.
			rest := pending[i][:0]
			for _, a := range pending[i] {
				if a.at.After(now) {
					rest = append(rest, a)
					continue
				}
				b.report(a.idx, a.h, a.throttled)
				b.settle(a.idx)
			}
			pending[i] = rest
			// As many requests as the bucket lets go now.
			for !now.Before(pausedTo[i]) {
				idx, _, ok, fallback := b.reserve()
				if fallback {
					if now.Before(fallbackAt[i]) {
						break
					}
					fallbackAt[i] = now.Add(window / 19)
					seq, ok := b.sendOnFallback()
					if !ok {
						continue // the window became known: reserve in it
					}
					idx = seq
				} else if !ok {
					break
				}
				h, throttled := srv.admit(now)
				pending[i] = append(pending[i], answer{at: now.Add(latency), idx: idx, h: h, throttled: throttled})
				if throttled {
					secs, _ := strconv.ParseInt(h.Get(apitypes.HeaderRateReset), 10, 64)
					pausedTo[i] = time.Unix(secs, 0)
					b.exhaust(pausedTo[i])
				}
			}
		}
	}
	return srv
}

// One client alone on a key spends all 20 submissions of every window the
// server reports and never meets a 429.
func TestBucketAloneSpendsTheWholeWindow(t *testing.T) {
	for _, latency := range []time.Duration{0, 3 * time.Millisecond, 40 * time.Millisecond} {
		t.Run(latency.String(), func(t *testing.T) {
			srv := simulate(t, 1, 10*time.Second, time.Millisecond, latency)
			full := srv.full()
			t.Logf("accepted per full window: %v; 429s %d", full, srv.tooMany)
			if len(full) < 8 {
				t.Fatalf("only %d full windows: %v", len(full), full)
			}
			for _, n := range full {
				if n != 20 {
					t.Fatalf("a full window held %d submissions, want 20: %v", n, full)
				}
			}
			if srv.tooMany != 0 {
				t.Fatalf("server answered %d × 429", srv.tooMany)
			}
		})
	}
}

// oneClient is one bucket alone on a key of a simulated server, on a clock
// the test moves (a window of a second, 20 requests).
type oneClient struct {
	t   *testing.T
	now time.Time
	srv *simServer
	b   *windowBucket
}

// newOneClient starts at a point into a window.
func newOneClient(t *testing.T, into time.Duration) *oneClient {
	c := &oneClient{t: t, now: time.Unix(1_700_000_000, 0).Add(into), srv: &simServer{window: time.Second, limit: 20, per: map[int64]int{}}}
	c.b = newWindowBucket(20, time.Second, func() time.Time { return c.now })
	return c
}

// answer has the server admit the request numbered seq now and hands its
// answer back at once; a 429 fails the test.
func (c *oneClient) answer(seq int) {
	c.t.Helper()
	h, throttled := c.srv.admit(c.now)
	c.b.report(seq, h, throttled)
	c.b.settle(seq)
	if throttled {
		c.t.Fatalf("429 at %s", c.now.Format("15:04:05.000"))
	}
}

// nineteenThenOneAtTheEnd sends nineteen requests answered in the first
// window, then lets a twentieth go 5 ms before the window's end (its
// number), unanswered; reset is that end.
func (c *oneClient) nineteenThenOneAtTheEnd() (late int, reset time.Time) {
	c.t.Helper()
	b := c.b
	first, ok := b.sendOnFallback()
	if !ok {
		c.t.Fatal("the first request could not go")
	}
	c.answer(first)
	for range 18 {
		c.now = c.now.Add(40 * time.Millisecond)
		seq, _, ok, _ := b.reserve()
		if !ok {
			c.t.Fatal("no room for the window's first twenty")
		}
		c.answer(seq)
	}
	reset = c.now.Truncate(c.srv.window).Add(c.srv.window)
	c.now = reset.Add(-5 * time.Millisecond)
	late, _, ok, _ = b.reserve()
	if !ok {
		c.t.Fatal("no room for the window's twentieth")
	}
	return late, reset
}

// sendWhileRoom sends and answers requests 10 ms apart while the bucket
// lets them go, and returns how many went.
func (c *oneClient) sendWhileRoom() int {
	c.t.Helper()
	n := 0
	for {
		seq, _, ok, _ := c.b.reserve()
		if !ok {
			return n
		}
		n++
		c.answer(seq)
		c.now = c.now.Add(10 * time.Millisecond)
	}
}

// alone fails the test if the bucket took another client to share the key.
func (c *oneClient) alone() {
	c.t.Helper()
	if c.b.othersRate != 0 {
		c.t.Fatalf("the bucket saw another client on the key (%.1f a second) where there is none", c.b.othersRate)
	}
}

// Callers queued on the fixed limiter when the first answer describes the
// window are not counted as sent: each reserves in the window it is sent
// in once its turn comes. A start 0.3 s before a window's end, with four
// submissions waiting: the first goes, its answer arrives, the three others
// come after the reset, and the next window still takes 20 from this client,
// seen as alone on the key. (Counted as sent when they were queued, they
// went out uncounted in the next window, which then looked shared with
// another client and was paced to 19.)
func TestQueuedFallbackCallersAreCountedWhenSent(t *testing.T) {
	const window = time.Second
	c := newOneClient(t, 700*time.Millisecond)
	b, send := c.b, c.answer
	// Four callers ask before anything is known: all are told to use the
	// fixed limiter, whose burst lets the first go at once.
	for range 4 {
		if _, _, _, fallback := b.reserve(); !fallback {
			t.Fatal("the bucket knew the window before any answer")
		}
	}
	first, ok := b.sendOnFallback()
	if !ok {
		t.Fatal("the first caller could not send on the fixed limiter")
	}
	send(first)
	// The fixed limiter lets the three others go a third of a window apart,
	// after the window ended: each reserves in the bucket instead.
	for i := 1; i <= 3; i++ {
		c.now = c.now.Add(window / 3)
		if _, ok := b.sendOnFallback(); ok {
			t.Fatalf("caller %d went on the fixed limiter after the window was known", i)
		}
		idx, _, ok, _ := b.reserve()
		if !ok {
			t.Fatalf("caller %d: no room in the window", i)
		}
		send(idx)
	}
	// The rest of that window, as fast as the bucket lets.
	next := c.now.Truncate(window)
	for {
		idx, _, ok, _ := b.reserve()
		if !ok {
			break
		}
		send(idx)
	}
	if got := c.srv.per[next.UnixNano()]; got != 20 {
		t.Fatalf("the window after the start took %d submissions, want 20 (server's count per window: %v)", got, c.srv.per)
	}
	c.alone()
}

// A request let go just before the window's end that reaches the server
// after it is counted by the server in the new window: the bucket counts it
// there too until an answer says otherwise, so the new window is not
// overspent (the twentieth request would meet a 429) and the key does not
// look shared.
func TestRequestOnItsWayAcrossTheResetCountsInTheNewWindow(t *testing.T) {
	c := newOneClient(t, 100*time.Millisecond)
	b, srv := c.b, c.srv
	late, reset := c.nineteenThenOneAtTheEnd()
	// It reaches the server in the next window; its answer is slow.
	c.now = reset.Add(30 * time.Millisecond)
	h, _ := srv.admit(c.now)
	sentNew := c.sendWhileRoom()
	b.report(late, h, false)
	b.settle(late)
	if got := srv.per[reset.UnixNano()]; got != 20 {
		t.Fatalf("the server counted %d requests in the new window, want 20", got)
	}
	if sentNew != 19 {
		t.Fatalf("the bucket let %d requests go in the new window, want 19 (with the one on its way)", sentNew)
	}
	c.alone()
}

// A request on its way at the reset that the server counted in the window
// that ended (it arrived just before the reset, its answer just after)
// frees the place it held in the new one: the new window still takes all
// twenty. (Left counted in both, it cost a submission a window whenever a
// window ended with one in flight.)
func TestRequestCountedInTheOldWindowFreesItsPlaceInTheNew(t *testing.T) {
	c := newOneClient(t, 100*time.Millisecond)
	b, srv, answer := c.b, c.srv, c.answer
	late, reset := c.nineteenThenOneAtTheEnd()
	// It reaches the server before the reset; its answer comes after.
	h, throttled := srv.admit(reset.Add(-3 * time.Millisecond))
	if throttled {
		t.Fatal("the twentieth was refused in its own window")
	}
	c.now = reset.Add(30 * time.Millisecond)
	sentNew := c.sendWhileRoom()
	if sentNew != 19 {
		t.Fatalf("before the late answer the bucket let %d go in the new window, want 19 (one held for the request on its way)", sentNew)
	}
	b.report(late, h, false)
	b.settle(late)
	seq, _, ok, _ := b.reserve()
	if !ok {
		t.Fatal("the answer showed the late request counted in the old window, and its place in the new one stayed taken")
	}
	answer(seq)
	if got := srv.per[reset.UnixNano()]; got != 20 {
		t.Fatalf("the server counted %d requests in the new window, want 20", got)
	}
	if _, _, ok, _ := b.reserve(); ok {
		t.Fatal("the bucket let a 21st request go in the new window")
	}
	c.alone()
}
