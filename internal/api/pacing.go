package api

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// windowBucket follows one of the server's fixed-window limits from the
// X-RateLimit-* headers of its answers and spends exactly the budget the
// server reports.
//
// Within a window it predicts what the server has left from its latest
// report: the reported Remaining, less the requests this client sent after
// the reported one, less what other clients on the same key are using (their
// rate is what the server's count dropped beyond our own sends). A request
// goes only when the prediction leaves at least one.
//
// Alone on a key the client spends the budget as fast as callers ask. When
// the server's count shows other clients, it paces its own requests evenly
// over the window at the per-window cap: every client on the key then
// advances at the same rate, so when the window runs out each has had an
// equal share, and the predictions keep the last slots from colliding.
//
// Until an answer has described the window, or when answers stop carrying
// usable headers, known is false and the caller falls back to the fixed
// token buckets.
type windowBucket struct {
	cap    int           // most this client sends in one window
	window time.Duration // the server's window length (configured)
	now    func() time.Time

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever a report arrives
	known    bool
	limit    int       // the server's limit for this bucket
	reset    time.Time // end of the current server window
	sent     int       // our requests sent in the current window
	lastSend time.Time
	jitter   time.Duration // this window's offset for paced sends

	// The lowest report seen in the current window.
	haveReport bool
	repRemain  int
	repAt      time.Time
	repSentIdx int // our sends in the window up to and including the reported one

	othersNow  int     // requests of other clients seen so far in this window
	othersRate float64 // their requests per second, as last measured
	misses     int     // answers in a row without usable headers
	// fallbackSent counts requests sent on the fixed limiter since the
	// bucket last knew the window.
	fallbackSent int

	// seq numbers every request this bucket lets go (reserve and
	// sendOnFallback), across windows; the current window's sends are those
	// after winStart. inFlight counts the requests let go whose attempt has
	// not ended yet (settle).
	seq, winStart int
	inFlight      int
	// carried is how many of this window's sends were on their way when
	// it began (counted in it until their answers tell), rollSeq the last
	// number let go before it began.
	carried, rollSeq int
}

func newWindowBucket(capacity int, window time.Duration, now func() time.Time) *windowBucket {
	return &windowBucket{cap: capacity, window: window, now: now, changed: make(chan struct{})}
}

// guard is how long after a reported reset the first request of the next
// window waits, so a slightly early clock does not land in the old window.
func (b *windowBucket) guard() time.Duration {
	return min(b.window/100, 100*time.Millisecond)
}

// rollLocked moves the bucket to the window that contains now, if the
// current one has ended.
func (b *windowBucket) rollLocked(now time.Time) {
	if now.Before(b.reset.Add(b.guard())) {
		return
	}
	if b.haveReport {
		if el := b.repAt.Sub(b.reset.Add(-b.window)).Seconds(); el > 0 && b.othersNow > 0 {
			b.othersRate = float64(b.othersNow) / min(el, b.window.Seconds())
		} else {
			b.othersRate = 0
		}
	}
	// Skip the windows in which nothing was sent.
	for !now.Before(b.reset.Add(b.guard())) {
		b.reset = b.reset.Add(b.window)
	}
	if now.Sub(b.repAt) > 3*b.window {
		b.known = false
	}
	// A request still on its way when the window ended may reach the server
	// in the new one and be counted there: it counts as sent in both, until
	// an answer of the new window says how many the server has left.
	// Counted in the new window only by the server, it would look like
	// another client's and the window would be paced for a shared key.
	b.sent, b.othersNow, b.haveReport = min(b.inFlight, b.limit), 0, false
	b.winStart = b.seq - b.sent
	b.carried, b.rollSeq = b.sent, b.seq
	b.jitter = 0
	if b.othersRate > 0 {
		b.jitter = time.Duration(rand.Int64N(int64(b.spacing()) + 1))
	}
}

// spacing is the gap between paced requests when the key is shared.
func (b *windowBucket) spacing() time.Duration {
	return time.Duration(float64(b.window) * 0.9 / float64(max(1, min(b.cap, b.limit))))
}

// reserve decides whether a request may go now. It returns ok and the send
// index to hand back to report, or how long to wait before asking again,
// and fallback when the bucket knows nothing and the caller must pace
// itself with the fixed limiter.
func (b *windowBucket) reserve() (idx int, wait time.Duration, ok, fallback bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.known {
		b.rollLocked(now)
	}
	if !b.known {
		return 0, 0, false, true
	}
	start := b.reset.Add(-b.window)
	untilNext := b.reset.Add(b.guard()).Sub(now)
	if b.sent >= min(b.cap, b.limit) {
		return 0, untilNext, false, false
	}
	// What the server has left, as far as we can tell.
	base, at, idx0 := b.limit, start, 0
	if b.haveReport {
		base, at, idx0 = b.repRemain, b.repAt, b.repSentIdx
	}
	predicted := float64(base) - float64(b.sent-idx0) - b.othersRate*max(0, now.Sub(at).Seconds())
	if predicted < 1 {
		return 0, untilNext, false, false
	}
	if b.othersRate > 0 {
		next := start.Add(b.jitter)
		if !b.lastSend.IsZero() && b.lastSend.After(start) {
			next = b.lastSend.Add(b.spacing())
		}
		if d := next.Sub(now); d > 0 {
			return 0, min(d, untilNext), false, false
		}
	}
	b.sent++
	b.seq++
	b.inFlight++
	b.lastSend = now
	return b.seq, 0, true, false
}

// sendOnFallback counts a request about to be sent on the fixed limiter,
// when the bucket still knows nothing of the window; it reports false when
// an answer described the window while the caller waited for the limiter,
// and the caller must then reserve in that window instead. Only requests
// really sent count: callers still queued on the limiter when the first
// answer arrives would otherwise count as sent in the window, and the
// bucket would leave their slots unused.
func (b *windowBucket) sendOnFallback() (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known {
		return 0, false
	}
	b.fallbackSent++
	b.seq++
	b.inFlight++
	return b.seq, true
}

// settle ends a request the bucket let go (its seq): it is no longer on its
// way, whether it was answered or not.
func (b *windowBucket) settle(seq int) {
	if seq <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight = max(b.inFlight-1, 0)
}

// rateHeaders is one answer's X-RateLimit-* headers, checked.
type rateHeaders struct {
	limit, remaining int
	reset            time.Time
}

// parseRateHeaders reads X-RateLimit-Limit/Remaining/Reset. ok is false
// when any is missing or they contradict each other or the window.
func parseRateHeaders(h http.Header, now time.Time, window time.Duration) (rateHeaders, bool) {
	lim, err1 := strconv.Atoi(strings.TrimSpace(h.Get(apitypes.HeaderRateLimit)))
	rem, err2 := strconv.Atoi(strings.TrimSpace(h.Get(apitypes.HeaderRateRemaining)))
	reset, ok := resetTime(h, now)
	if err1 != nil || err2 != nil || !ok || lim <= 0 || rem < 0 || rem > lim {
		return rateHeaders{}, false
	}
	// A reset in the past, or further away than a window (plus the second
	// it may be rounded up by), does not describe the current window.
	if !reset.After(now.Add(-time.Second)) || reset.After(now.Add(window+time.Second)) {
		return rateHeaders{}, false
	}
	return rateHeaders{limit: lim, remaining: rem, reset: reset}, true
}

// report records an answer to the request numbered seq by reserve or
// sendOnFallback (0: unknown). throttled is a 429.
func (b *windowBucket) report(seq int, h http.Header, throttled bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer func() {
		close(b.changed)
		b.changed = make(chan struct{})
	}()
	now := b.now()
	rh, ok := parseRateHeaders(h, now, b.window)
	if !ok {
		if throttled {
			return // a 429 from a proxy often carries no X-RateLimit-* at all
		}
		b.misses++
		if b.misses >= 3 {
			b.known = false
		}
		return
	}
	b.misses = 0
	if !b.known || rh.reset.After(b.reset.Add(b.window/2)) {
		// First sight, or the server's window moved on before ours.
		b.known = true
		b.limit = rh.limit
		b.reset = rh.reset
		// Requests sent on the fallback limiter count as ours.
		b.sent, b.othersNow, b.haveReport = min(b.fallbackSent, rh.limit), 0, false
		b.fallbackSent = 0
		b.winStart = b.seq - b.sent
		b.carried = 0
	} else if rh.reset.Before(b.reset.Add(-b.window / 2)) {
		// An answer from a window that has ended. When it answers a
		// request carried into this window (on its way at the reset), the
		// server counted that request in the old window: its place here
		// is free again, and the sends after it move up one.
		if seq > 0 && seq <= b.rollSeq && b.carried > 0 {
			b.carried--
			b.sent = max(b.sent-1, 0)
			b.winStart++
		}
		return
	}
	// Its place among this window's sends: the server had counted it and,
	// as far as we know, those sent before it. One let go before the window
	// began (on its way across the reset) is taken as the first.
	idx := min(max(seq-b.winStart, 1), b.sent)
	b.limit = rh.limit
	rem := rh.remaining
	if throttled {
		rem = 0
	}
	if b.haveReport && rem >= b.repRemain {
		return
	}
	b.haveReport, b.repRemain, b.repAt = true, rem, now
	b.repSentIdx = idx
	// The server counted limit-rem requests; at most all we have sent in
	// this window were ours (answers may overtake each other).
	if others := (b.limit - rem) - b.sent; others > b.othersNow && !throttled {
		b.othersNow = others
		if el := now.Sub(b.reset.Add(-b.window)).Seconds(); el > b.window.Seconds()/10 {
			b.othersRate = max(b.othersRate, float64(others)/el)
		} else if b.othersRate == 0 {
			b.othersRate = float64(others) / (b.window.Seconds() / 10)
		}
	}
}

// exhaust marks the bucket spent until t (a 429's pause).
func (b *windowBucket) exhaust(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.known {
		return
	}
	if t.After(b.reset) && t.Before(b.reset.Add(b.window/2)) {
		b.reset = t
	}
	b.sent = max(b.sent, min(b.cap, b.limit))
}

// notify returns a channel closed at the next report.
func (b *windowBucket) notify() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}
