package emulator

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

func (e *Emulator) keyOK(k string) bool {
	if k == "" {
		return false
	}
	for _, a := range e.opts.APIKeys {
		if a == k {
			return true
		}
	}
	return false
}

// admit applies the fixed-window limits and sets X-RateLimit-* headers.
// Refused requests do not count against the window.
func (e *Emulator) admit(w http.ResponseWriter, key string, submission bool) bool {
	e.mu.Lock()
	now := e.now()
	start := now.Truncate(e.opts.RateWindow)
	win := e.windows[key]
	if win == nil || !win.start.Equal(start) {
		win = &window{start: start}
		e.windows[key] = win
	}
	reset := start.Add(e.opts.RateWindow)
	limit, used := e.opts.RequestsPerWindow, win.global
	ok := win.global < e.opts.RequestsPerWindow
	submitsSpent := false
	if submission {
		if win.submits >= e.opts.SubmissionsPerWindow {
			ok, submitsSpent = false, true
		}
		// On submissions the headers report the tighter submission bucket.
		limit, used = e.opts.SubmissionsPerWindow, win.submits
	}
	if ok {
		win.global++
		if submission {
			win.submits++
		}
		used++
	} else {
		e.stats.RateLimited++
	}
	e.mu.Unlock()
	h := w.Header()
	h.Set(apitypes.HeaderRateLimit, fmt.Sprint(limit))
	h.Set(apitypes.HeaderRateRemaining, fmt.Sprint(max(limit-used, 0)))
	// Unix seconds, rounded up so a client never wakes before the reset.
	resetSecs := (reset.UnixNano() + int64(time.Second) - 1) / int64(time.Second)
	switch {
	case !ok && e.quirk(QuirkRetryAfter):
		h.Set("Retry-After", fmt.Sprint(max(resetSecs-now.Unix(), 1)))
	case e.quirk(QuirkResetMillis):
		h.Set(apitypes.HeaderRateReset, fmt.Sprint(reset.UnixMilli()))
	default:
		h.Set(apitypes.HeaderRateReset, fmt.Sprint(resetSecs))
	}
	if !ok {
		msg := "More than 150 requests per minute."
		if submitsSpent {
			msg = "More than 20 extraction submissions per minute."
		}
		writeErr(w, http.StatusTooManyRequests, apitypes.CodeRateLimited, msg)
	}
	return ok
}
