package api

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits paces requests within the server's fixed-window limits and holds
// every caller while the server has asked for a pause.
//
// Each limit is followed from the server's X-RateLimit-* headers (see
// windowBucket): the client spends exactly the budget the server reports.
// Until the headers have described a window, or when they are missing or
// contradictory, the fixed token buckets below pace the client instead.
//
// A token bucket with burst b and rate r lets through at most b + r·T events
// in any interval of length T. Sizing r = (limit - b)/window keeps every
// interval of one window, and so every fixed server window, at or under the
// limit, from the very first burst after start.
type limits struct {
	global *rate.Limiter
	submit *rate.Limiter
	// Server-reported windows: the request bucket (described by every answer
	// but submissions) and the submission bucket (described by submissions).
	globalWin *windowBucket
	submitWin *windowBucket
	window    time.Duration

	mu          sync.Mutex
	notBefore   time.Time // all requests
	submitAfter time.Time // submissions only
	now         func() time.Time
}

func newLimits(requests, submissions int, window time.Duration) *limits {
	gb := max(1, requests/15)
	if gb >= requests {
		gb = 1
	}
	return &limits{
		global:    rate.NewLimiter(perWindow(requests-gb, window), gb),
		submit:    rate.NewLimiter(perWindow(submissions-1, window), 1),
		globalWin: newWindowBucket(requests, window, time.Now),
		submitWin: newWindowBucket(submissions, window, time.Now),
		window:    window,
		now:       time.Now,
	}
}

// grant is what wait hands out: the send numbers to give back to observe.
type grant struct {
	global, submit int
}

func perWindow(n int, window time.Duration) rate.Limit {
	if n <= 0 {
		n = 1
	}
	return rate.Limit(float64(n) / window.Seconds())
}

// wait blocks until a request may be sent. Submissions take the scarce
// submission slot first, then a global one.
func (l *limits) wait(ctx context.Context, submission bool) (grant, error) {
	var g grant
	if submission {
		if err := l.waitGate(ctx, true); err != nil {
			return g, err
		}
		n, err := l.take(ctx, l.submitWin, l.submit)
		if err != nil {
			return g, err
		}
		g.submit = n
	}
	if err := l.waitGate(ctx, submission); err != nil {
		return g, err
	}
	n, err := l.take(ctx, l.globalWin, l.global)
	if err != nil {
		return g, err
	}
	g.global = n
	return g, l.waitGate(ctx, submission)
}

// take waits for one slot of a server window, or for a token of the fixed
// limiter while the window is unknown.
func (l *limits) take(ctx context.Context, b *windowBucket, fixed *rate.Limiter) (int, error) {
	for {
		changed := b.notify()
		idx, wait, ok, fallback := b.reserve()
		switch {
		case ok:
			return idx, nil
		case fallback:
			// rate.Limiter.Wait fails at once when the wait would pass the
			// context's deadline; a caller's deadline is about the whole
			// call, not about pacing, so wait on a context that is only
			// ever cancelled.
			wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			stop := context.AfterFunc(ctx, cancel)
			err := fixed.Wait(wctx)
			stop()
			cancel()
			if err != nil {
				return 0, ctxErr(ctx, err)
			}
			if seq, ok := b.sendOnFallback(); ok {
				return seq, nil
			}
			continue // the window became known meanwhile: reserve in it
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
}

// settle ends the attempt a grant was for, answered or not.
func (l *limits) settle(g grant) {
	l.submitWin.settle(g.submit)
	l.globalWin.settle(g.global)
}

// observe hands an answer's headers to the bucket they describe: the
// submission bucket for a submission, the request bucket for anything else.
func (l *limits) observe(g grant, h http.Header, submission, throttled bool) {
	if submission {
		l.submitWin.report(g.submit, h, throttled)
		return
	}
	l.globalWin.report(g.global, h, throttled)
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (l *limits) waitGate(ctx context.Context, submission bool) error {
	for {
		l.mu.Lock()
		until := l.notBefore
		if submission && l.submitAfter.After(until) {
			until = l.submitAfter
		}
		l.mu.Unlock()
		d := until.Sub(l.now())
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pause holds callers until t (all of them, or only submissions), and marks
// the bucket the 429 came from spent until then.
func (l *limits) pause(t time.Time, onlySubmissions bool) {
	if onlySubmissions {
		l.submitWin.exhaust(t)
	} else {
		l.globalWin.exhaust(t)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if onlySubmissions {
		if t.After(l.submitAfter) {
			l.submitAfter = t
		}
		return
	}
	if t.After(l.notBefore) {
		l.notBefore = t
	}
}

// backoff is bounded exponential back-off with full jitter.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base << min(attempt, 16)
	if d > maxDelay || d <= 0 {
		d = maxDelay
	}
	// Full jitter between d/2 and d keeps retries apart without collapsing to zero.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
