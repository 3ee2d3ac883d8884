package api_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/testlog"
)

// The server's clock is measured from the Date header of its answers; a
// difference over the threshold is logged once, a small one never.
func TestServerClockOffsetFromDateHeader(t *testing.T) {
	for _, tc := range []struct {
		skew   time.Duration
		logged string
	}{
		{-time.Hour, "behind"},
		{90 * time.Second, "ahead of"},
		{2 * time.Second, ""},
	} {
		t.Run(tc.skew.String(), func(t *testing.T) {
			_, srv := startEmulator(t, emulator.Options{ClockSkew: tc.skew})
			var logs testlog.Buffer
			c := newClient(t, srv.URL, api.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if _, ok := c.ServerClockOffset(); ok {
				t.Fatal("offset known before any answer")
			}
			for range 3 {
				if _, err := c.Me(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			off, ok := c.ServerClockOffset()
			if !ok || (off-tc.skew).Abs() > 2*time.Second {
				t.Fatalf("offset = %s (%v), want %s within 2 s", off, ok, tc.skew)
			}
			n := strings.Count(logs.String(), "the API server's clock is")
			switch {
			case tc.logged == "" && n != 0:
				t.Errorf("a difference of %s was logged:\n%s", tc.skew, logs.String())
			case tc.logged != "" && (n != 1 || !strings.Contains(logs.String(), "clock is "+tc.logged)):
				t.Errorf("logged %d times, want once saying %q:\n%s", n, tc.logged, logs.String())
			}
		})
	}
}
