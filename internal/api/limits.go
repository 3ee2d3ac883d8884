package api

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits paces requests below the server's fixed-window limits and holds
// every caller while the server has asked for a pause.
//
// A token bucket with burst b and rate r lets through at most b + r·T events
// in any interval of length T. Sizing r = (limit - b)/window keeps every
// interval of one window, and so every fixed server window, at or under the
// limit, from the very first burst after start.
type limits struct {
	global *rate.Limiter
	submit *rate.Limiter

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
		global: rate.NewLimiter(perWindow(requests-gb, window), gb),
		submit: rate.NewLimiter(perWindow(submissions-1, window), 1),
		now:    time.Now,
	}
}

func perWindow(n int, window time.Duration) rate.Limit {
	if n <= 0 {
		n = 1
	}
	return rate.Limit(float64(n) / window.Seconds())
}

// wait blocks until a request may be sent. Submissions take the scarce
// submission token first, then a global one.
func (l *limits) wait(ctx context.Context, submission bool) error {
	// rate.Limiter.Wait fails at once when the wait would pass the context's
	// deadline; a caller's deadline is about the whole call, not about
	// pacing, so wait on a context that is only ever cancelled.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	if submission {
		if err := l.waitGate(ctx, true); err != nil {
			return err
		}
		if err := l.submit.Wait(wctx); err != nil {
			return ctxErr(ctx, err)
		}
	}
	if err := l.waitGate(ctx, submission); err != nil {
		return err
	}
	if err := l.global.Wait(wctx); err != nil {
		return ctxErr(ctx, err)
	}
	return l.waitGate(ctx, submission)
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

// pause holds callers until t (all of them, or only submissions).
func (l *limits) pause(t time.Time, onlySubmissions bool) {
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
