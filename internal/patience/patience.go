// Package patience scales the deadlines tests give events by how busy the
// machine is, so a test waits on an event, not on a machine's speed: on an
// idle machine a deadline is what the test says; on a machine whose run
// queue holds four times as many runnable threads as it has CPUs, it is
// four times that. Deadlines only bound how long a failing test hangs; a
// passing test never waits for them.
package patience

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// MaxFactor bounds the scaling, so a wedged test still ends.
const MaxFactor = 10

// Factor is how many times longer than on an idle machine a deadline
// should be now: the one-minute load average divided by the CPUs, at
// least 1 and at most MaxFactor. PPSYNC_TEST_PATIENCE, when set to a
// number, replaces the measure (1 restores the tests' own deadlines).
func Factor() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("PPSYNC_TEST_PATIENCE"), 64); err == nil && v > 0 {
		return min(v, MaxFactor)
	}
	return min(max(load()/float64(runtime.NumCPU()), 1), MaxFactor)
}

// Scale is d times Factor.
func Scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * Factor())
}

// Describe says how deadlines are scaled now, for a test's log.
func Describe() string {
	return fmt.Sprintf("deadlines scaled ×%.1f (load average %.1f on %d CPUs; PPSYNC_TEST_PATIENCE overrides)",
		Factor(), load(), runtime.NumCPU())
}

// Wait polls cond every interval until it holds or d, scaled by the
// machine's load at each poll, has passed since the start; it reports
// whether cond held.
func Wait(d, interval time.Duration, cond func() bool) bool {
	start := time.Now()
	for !cond() {
		if time.Since(start) > Scale(d) {
			return cond()
		}
		time.Sleep(interval)
	}
	return true
}

// load is the one-minute load average, 0 where the system does not say.
func load() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
