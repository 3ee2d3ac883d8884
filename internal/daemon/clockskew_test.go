package daemon_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
)

// An API server whose clock is an hour behind or ahead of ours: results
// arrive as fast as with a server in step (through the list of finished
// jobs, not the safety net that asks each job after twenty poll
// intervals), in polling and in webhook mode (where a lost delivery leaves
// the result to that list), and the difference is logged once.
func TestSkewedServerClockResultsArrivePromptly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		skew    time.Duration
		webhook bool
		lost    bool // every webhook delivery lost
	}{
		{"polling, server 1h behind", -time.Hour, false, false},
		{"polling, server 1h ahead", time.Hour, false, false},
		{"webhooks, server 1h behind", -time.Hour, true, false},
		{"webhooks, server 1h ahead", time.Hour, true, false},
		{"webhooks lost, server 1h behind", -time.Hour, true, true},
		{"webhooks lost, server 1h ahead", time.Hour, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := emulator.Options{ClockSkew: tc.skew, ProcessingTime: 20 * time.Millisecond}
			if tc.lost {
				o.WebhookDropRate = 1
			}
			e := newEnv(t, o)
			// A poll interval of 3 s (the webhooks' safety-net poll too):
			// the safety net would ask a job the list does not show only
			// after a minute.
			var cfg *config.Config
			if tc.webhook {
				cfg = e.webhookConfig("3s")
			} else {
				cfg = e.parse(strings.Replace(e.fastTables("off"), `interval = "100ms"`, `interval = "3s"`, 1) + `
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "150ms"
`)
			}
			stop := e.start(cfg)
			defer stop()
			if tc.webhook && !tc.lost {
				e.waitFor("the test delivery", 15*time.Second, func() bool { return strings.Contains(e.logs.String(), "webhook test delivery") })
			}
			var files []string
			for i := range 3 {
				p := filepath.Join(e.inbox, fmt.Sprintf("c%d.pdf", i))
				write(t, p, pdf(t, i, 1))
				files = append(files, p)
			}
			e.waitFor("every result, well before the safety net", 30*time.Second, func() bool { return allResults(files) })
			if n := strings.Count(e.logs.String(), "the API server's clock is"); n != 1 {
				t.Errorf("the clock difference was logged %d times, want once", n)
			}
			way := "behind"
			if tc.skew > 0 {
				way = "ahead of"
			}
			if !strings.Contains(e.logs.String(), "the API server's clock is "+way) {
				t.Errorf("the log does not say the server's clock is %s ours", way)
			}
		})
	}
}
