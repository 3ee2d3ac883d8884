package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// An absolute X-RateLimit-Reset is the server's time: it is moved onto
// ours; a delta is left as it is.
func TestResetMovedOntoOurClock(t *testing.T) {
	c := &serverClock{log: slog.New(slog.DiscardHandler)}
	now := time.Now()
	h := http.Header{}
	h.Set("Date", now.Add(-time.Hour).UTC().Format(http.TimeFormat))
	c.observe(h, now, now)
	for _, tc := range []struct{ in, want string }{
		{strconv.FormatInt(now.Add(-time.Hour+30*time.Second).Unix(), 10), strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)},
		{strconv.FormatInt(now.Add(-time.Hour+30*time.Second).UnixMilli(), 10), strconv.FormatInt(now.Add(30*time.Second).UnixMilli(), 10)},
		{"30", "30"},
	} {
		h := http.Header{}
		h.Set(apitypes.HeaderRateReset, tc.in)
		c.toLocal(h)
		got, _ := strconv.ParseFloat(h.Get(apitypes.HeaderRateReset), 64)
		want, _ := strconv.ParseFloat(tc.want, 64)
		tol := 1.0
		if want > 1e11 {
			tol = 1000
		}
		if got < want-tol || got > want+tol {
			t.Errorf("reset %s moved to %s, want about %s", tc.in, h.Get(apitypes.HeaderRateReset), tc.want)
		}
	}
}
