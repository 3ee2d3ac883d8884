package memlimit

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
)

func TestLimit(t *testing.T) {
	for _, c := range []struct{ live, floor, want int64 }{
		{0, Floor, Floor},
		{10 << 20, Floor, Floor},
		{40 << 20, Floor, 60 << 20},
		{200 << 20, Floor, 300 << 20},
	} {
		if got := Limit(c.live, c.floor); got != c.want {
			t.Errorf("Limit(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// The limit is set while Run runs, follows the live heap, and is restored.
func TestRunSetsAndRestores(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<40, time.Millisecond, func(string) string { return "" }); close(done) }()
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for debug.SetMemoryLimit(-1) != 1<<40 {
		if time.Now().After(deadline) {
			t.Fatalf("limit is %d, want the floor %d", debug.SetMemoryLimit(-1), int64(1<<40))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after Run = %d, want the one before (%d)", got, before)
	}
}

// An administrator's GOMEMLIMIT is left alone.
func TestRunHonoursGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	Run(ctx, 1<<40, time.Millisecond, func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	})
	if time.Since(start) > 500*time.Millisecond {
		t.Fatal("Run waited for its context although GOMEMLIMIT is set")
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit = %d, want it unchanged (%d)", got, before)
	}
}
