package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/report"
)

func TestWriteText(t *testing.T) {
	healthy := false
	r := report.Report{Daemon: report.Daemon{Running: true, PID: 7, Version: "1.0", Started: time.Now()}, State: report.StateInfo{Path: "/s.db", Schema: 1},
		Inboxes: []report.Inbox{{Path: "/in", ParserID: "p", Watch: "poll", Healthy: &healthy, Error: "gone", Settling: 2, Incomplete: 1,
			Files: map[string]int{report.Done: 4}}}}
	var b strings.Builder
	r.WriteText(&b, "127.0.0.1:20001")
	for _, want := range []string{"is running (pid 7", "admin:     http://127.0.0.1:20001", "UNREACHABLE: gone", "2 files still being written", "1 empty or without %%EOF", "/s.db (schema 1)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	report.Report{State: report.StateInfo{Path: "/s.db"}}.WriteText(&b, "off")
	if !strings.Contains(b.String(), "not created yet") || strings.Contains(b.String(), "admin:") {
		t.Errorf("stopped, no state, admin off:\n%s", b.String())
	}
}
