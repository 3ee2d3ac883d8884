package daemon

import (
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/report"
)

// reportCostShare bounds the share of the daemon's time the state's part
// of its report takes while the state changes under it: a report that took
// d to build is reused for reportCostShare × d, whatever changed meanwhile.
// The status page asks every second, and so does whoever polls /status. A
// report reads every file on its way with its document's state: 33 ms for
// 100,000 files in a quiet process (BenchmarkFromState), more while a
// backlog runs beside it, 0.06 ms with 100. Rebuilt whenever the state
// changed, a page left open through a backlog of 100,000 files made the
// run cost 60 % more CPU (go run ./bench -watch-status); bounded, at most
// 1/reportCostShare of a core, and a small state's report is rebuilt at
// every change as before.
const reportCostShare = 20

// reportCache keeps the state's part of the report (store.Report) at one
// version of the state: with nothing changed the answer is the same, and
// with a change it is rebuilt once the last build's cost allows.
type reportCache struct {
	now func() time.Time // time.Now when nil

	mu      sync.Mutex
	version uint64
	waiting bool
	counts  *report.Report
	builtAt time.Time
	cost    time.Duration
}

// get returns the report of the state at version (waiting: whether the
// daemon waits for credits), from build when the one kept is of another
// version and older than reportCostShare times what it took to build, or
// was built with another waiting. The caller gets its own copy.
func (c *reportCache) get(version uint64, waiting bool, build func() (report.Report, error)) (report.Report, error) {
	now := c.now
	if now == nil {
		now = time.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || c.waiting != waiting ||
		(c.version != version && now().Sub(c.builtAt) >= reportCostShare*c.cost) {
		start := now()
		r, err := build()
		if err != nil {
			return r, err
		}
		c.builtAt = now()
		c.counts, c.version, c.waiting, c.cost = &r, version, waiting, c.builtAt.Sub(start)
	}
	return c.counts.Clone(), nil
}
