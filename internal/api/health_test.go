package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/testlog"
)

// downable fails every round trip while down is set, as a network that
// does not answer does.
type downable struct{ down atomic.Bool }

func (d *downable) RoundTrip(r *http.Request) (*http.Response, error) {
	if d.down.Load() {
		return nil, errors.New("connect: connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestWatchHealthReportsAnOutageOnce(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(map[bool]string{true: "watched", false: "unwatched"}[watch], func(t *testing.T) {
			_, srv := startEmulator(t, emulator.Options{})
			net := &downable{}
			var logs testlog.Buffer
			c := newClient(t, srv.URL, api.Options{Transport: net, WatchHealth: watch, MaxRetries: 1,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx := context.Background()
			if _, err := c.Me(ctx); err != nil {
				t.Fatal(err)
			}
			if f := c.Fault(); f != "" {
				t.Fatalf("Fault while the API answers = %q", f)
			}
			net.down.Store(true)
			for range 2 {
				if _, err := c.Me(ctx); err == nil {
					t.Fatal("a call through a network that is down succeeded")
				}
			}
			f := c.Fault()
			if !watch {
				if f != "" || logs.Count("unreachable") != 0 {
					t.Fatalf("an unwatched client reported an outage: fault %q, logs:\n%s", f, logs.String())
				}
				return
			}
			if !strings.Contains(f, srv.URL) || !strings.Contains(f, "connection refused") {
				t.Fatalf("Fault = %q, want the API's address and the cause", f)
			}
			if n := logs.Count("the PerfectParser API is unreachable"); n != 1 {
				t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs.String())
			}
			net.down.Store(false)
			if _, err := c.Me(ctx); err != nil {
				t.Fatal(err)
			}
			if f := c.Fault(); f != "" {
				t.Fatalf("Fault after the API answers again = %q", f)
			}
			if n := logs.Count("the PerfectParser API answers again"); n != 1 {
				t.Fatalf("the end of the outage was logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}
