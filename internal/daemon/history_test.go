package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/webui"
)

var lastPollMetric = regexp.MustCompile(`(?m)^ppsync_last_poll_timestamp_seconds (\S+)$`)

// The page's chart, latency percentiles and credit window, the daily
// history and the last-poll metric come back after a restart (a reload
// is the same: the pipeline starts again in the process).
func TestHistorySurvivesARestart(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webConfig("127.0.0.1:"+port(t), "", "inbox")
	stop := e.start(cfg)
	var files []string
	for i, pages := range []int{1, 2, 3} {
		f := filepath.Join(e.inbox, fmt.Sprintf("doc%d.pdf", i))
		write(t, f, pdf(t, i+1, pages))
		files = append(files, f)
	}
	broken := filepath.Join(e.inbox, "broken.pdf")
	write(t, broken, []byte("%PDF-1.4 no trailer at all\n%%EOF"))
	e.waitFor("every result", 30*time.Second, func() bool {
		for _, f := range files {
			if !exists(results.ResultPath(f)) {
				return false
			}
		}
		return exists(results.ErrorPath(broken))
	})
	e.waitFor("nothing in flight", 20*time.Second, func() bool {
		r := status(t, cfg)
		return r.JobsInFlight == 0 && !r.LastPoll.IsZero()
	})
	type picture struct {
		act     string
		history string
		poll    string
		window  float64
	}
	look := func() picture {
		var ov webui.Overview
		if err := json.Unmarshal([]byte(get(t, cfg, "/ui/api/overview")), &ov); err != nil || ov.Activity == nil {
			t.Fatalf("overview: %v", err)
		}
		a := ov.Activity
		m := lastPollMetric.FindStringSubmatch(get(t, cfg, "/metrics"))
		if m == nil {
			t.Fatal("no ppsync_last_poll_timestamp_seconds in /metrics")
		}
		return picture{act: fmt.Sprintf("hours %v, %d latencies, p50 %v, p95 %v", a.Hours, a.LatencySamples, a.LatencyP50, a.LatencyP95),
			history: get(t, cfg, "/api/history?days=90"), poll: m[1], window: a.BurnWindowHours}
	}
	// The activity records a result just after its file is written: wait
	// for the third, then take the picture.
	var before picture
	e.waitFor("the activity of every result", 20*time.Second, func() bool {
		before = look()
		return strings.Contains(before.act, "3 latencies")
	})
	var h admin.HistoryAnswer
	if err := json.Unmarshal([]byte(before.history), &h); err != nil || len(h.Days) != 1 {
		t.Fatalf("history %s: %v", before.history, err)
	}
	if d := h.Days[0]; d.Date != time.Now().Format(time.DateOnly) || d.Documents != 3 || d.Pages != 6 || d.Credits != 6 || d.Failures != 1 {
		t.Errorf("today's history %+v, want 3 documents, 6 pages, 6 credits, 1 failure", d)
	}
	stop()

	stop = e.start(cfg)
	defer stop()
	after := look()
	if after.act != before.act {
		t.Errorf("the page's activity after a restart:\n%s\nwant\n%s", after.act, before.act)
	}
	if after.history != before.history {
		t.Errorf("history after a restart %s, want %s", after.history, before.history)
	}
	if after.poll != before.poll {
		t.Errorf("last poll metric after a restart %s, want %s", after.poll, before.poll)
	}
	if after.window < before.window {
		t.Errorf("the credit samples' window shrank from %.5f h to %.5f h: the burn rate started afresh", before.window, after.window)
	}
}
