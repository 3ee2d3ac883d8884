package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// SkewLogThreshold is how far the server's clock may be from ours before
// the difference is logged (once).
const SkewLogThreshold = 5 * time.Second

// serverClock measures how far the API server's clock is from ours, from
// the Date header of its answers. The header has a resolution of one
// second: an estimate is within about a second plus the round trip.
type serverClock struct {
	log *slog.Logger

	mu     sync.Mutex
	offset time.Duration // server time minus ours
	known  bool
	logged bool
}

// observe takes one answer's Date header; sent and received bracket the
// request on our clock.
func (s *serverClock) observe(h http.Header, sent, received time.Time) {
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	// The header is truncated to the second: its middle is the best guess.
	mid := sent.Add(received.Sub(sent) / 2)
	off := date.Add(500 * time.Millisecond).Sub(mid).Round(time.Second)
	s.mu.Lock()
	s.offset, s.known = off, true
	logNow := !s.logged && off.Abs() > SkewLogThreshold
	if logNow {
		s.logged = true
	}
	s.mu.Unlock()
	if logNow {
		way := "ahead of"
		if off < 0 {
			way = "behind"
		}
		s.log.Warn("the API server's clock is "+way+" this machine's; ppsync allows for the difference when it asks for finished jobs "+
			"(if this machine's clock is the wrong one, set up time synchronisation (NTP) on it)",
			"difference", off.Abs().String(), "server_date", h.Get("Date"))
	}
}

// get returns the offset (server minus ours) and whether it was measured.
func (s *serverClock) get() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset, s.known
}

// toLocal rewrites an absolute X-RateLimit-Reset (server time) as our time,
// so the pacing that reads it is not off by the difference of the clocks.
// A difference within SkewLogThreshold is the Date header's rounding and
// the round trip as much as the clocks: resets are then left as sent.
func (s *serverClock) toLocal(h http.Header) {
	off, ok := s.get()
	if !ok || off.Abs() <= SkewLogThreshold {
		return
	}
	v := strings.TrimSpace(h.Get(apitypes.HeaderRateReset))
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 1e9 {
		return // absent, or a delta: no clock in it
	}
	if f >= 1e11 { // milliseconds
		h.Set(apitypes.HeaderRateReset, strconv.FormatInt(int64(f)-off.Milliseconds(), 10))
		return
	}
	h.Set(apitypes.HeaderRateReset, strconv.FormatFloat(f-off.Seconds(), 'f', -1, 64))
}

// ServerClockOffset returns how far the API server's clock is ahead of ours
// (negative: behind), as measured from the Date header of its answers, and
// whether any answer carried one. Callers that send the server times of
// our clock (a list's since) add it.
func (c *Client) ServerClockOffset() (time.Duration, bool) { return c.clock.get() }
