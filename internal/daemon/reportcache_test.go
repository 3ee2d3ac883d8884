package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/report"
)

// The state's part of the report is rebuilt when the state changed, but
// not sooner than reportCostShare times what the last build took: a cheap
// report follows every change, a dear one (a backlog's) takes at most a
// twentieth of the daemon's time however often it is asked for.
func TestReportCacheBoundsTheCostOfRebuilding(t *testing.T) {
	clock := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	c := reportCache{now: func() time.Time { return clock }}
	builds := 0
	cost := 50 * time.Millisecond
	var fail error
	build := func() (report.Report, error) {
		clock = clock.Add(cost)
		if fail != nil {
			return report.Report{}, fail
		}
		builds++
		return report.Report{QueueDepth: builds, Inboxes: []report.Inbox{{Path: "/in", Files: map[string]int{report.Done: builds}}}}, nil
	}
	step := func(name string, version uint64, waiting bool, after time.Duration, wantBuilds, wantDepth int) {
		t.Helper()
		clock = clock.Add(after)
		r, err := c.get(version, waiting, build)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if builds != wantBuilds || r.QueueDepth != wantDepth {
			t.Errorf("%s: %d builds, the report of build %d; want %d builds, the report of build %d", name, builds, r.QueueDepth, wantBuilds, wantDepth)
		}
		r.Inboxes[0].Files[report.Done] = -1 // the caller's own copy
	}
	step("first ask", 1, false, 0, 1, 1)
	step("a new version within 20 × the 50 ms build", 2, false, 900*time.Millisecond, 1, 1)
	step("the new version once 20 × 50 ms passed", 2, false, 100*time.Millisecond, 2, 2)
	step("the same version, much later", 2, false, time.Minute, 2, 2)
	step("waiting for credits changed, at once", 2, true, 0, 3, 3)
	cost = 0
	step("a new version after a dear build", 3, true, 10*time.Millisecond, 3, 3)
	step("a new version, 1 s after it", 3, true, time.Second, 4, 4)
	step("a new version right after a cheap build", 4, true, time.Millisecond, 5, 5)
	if r, _ := c.get(4, true, build); r.Inboxes[0].Files[report.Done] != 5 {
		t.Errorf("the kept report was changed through a copy handed out: %v", r.Inboxes[0].Files)
	}

	fail = errors.New("state damaged")
	clock = clock.Add(time.Second)
	if _, err := c.get(5, true, build); !errors.Is(err, fail) {
		t.Errorf("a failed build: err = %v, want it returned", err)
	}
	fail = nil
	step("the next ask after a failed build", 5, true, 0, 6, 6)
}
