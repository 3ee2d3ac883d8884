package webhook_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/webhook"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// 3,000 forged deliveries make one line, then a summary per period, not a
// line each; the count is kept for status and /metrics.
func TestRejectedDeliveriesAreSummarised(t *testing.T) {
	var log logBuf
	const period = 300 * time.Millisecond
	start := time.Now()
	r := webhook.NewReceiver(webhook.ReceiverOptions{Path: "/hook", Logger: slog.New(slog.NewTextHandler(&log, nil)),
		RejectSummary: period})
	r.SetSecret(secret)
	var wg sync.WaitGroup
	for i := range 3000 {
		wg.Go(func() {
			hdr := map[string]string{apitypes.HeaderSignature: "00"}
			if i%3 == 0 {
				hdr = nil
			}
			post(t, r, "/hook", `{"extraction_id":"ext_1"}`, hdr)
		})
	}
	wg.Wait()
	if _, rej, _ := r.Counts(); rej != 3000 {
		t.Fatalf("rejected = %d, want 3000", rej)
	}
	// Wait until every rejection is in a summary.
	summary := regexp.MustCompile(`msg="webhook deliveries rejected" component=webhook count=(\d+) period=\S+ reasons="missing or invalid X-PerfectParser-Signature: (\d+)"`)
	deadline := time.Now().Add(patience.Scale(20 * time.Second))
	var sums [][]string
	for {
		sums = summary.FindAllStringSubmatch(log.String(), -1)
		total := 0
		for _, m := range sums {
			n, _ := strconv.Atoi(m[1])
			total += n
			if m[2] != m[1] {
				t.Fatalf("summary counts disagree: %s", m[0])
			}
		}
		if total == 2999 {
			break
		}
		if total > 2999 || time.Now().After(deadline) {
			t.Fatalf("summaries count %d of the 2999 after the first:\n%s", total, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	out := log.String()
	lines := strings.Count(out, "\n")
	// One line for the first, then at most one per period.
	if first := strings.Count(out, "webhook delivery rejected"); first != 1 || lines != 1+len(sums) || len(sums) > int(elapsed/period)+2 {
		t.Fatalf("%d lines (%d summaries) in %v, want the first and one summary per %v:\n%s", lines, len(sums), elapsed, period, out)
	}
	t.Logf("3000 rejections in %v: %d lines", elapsed, lines)
	// Quiet again: the next rejection gets its own line at once.
	deadline = time.Now().Add(patience.Scale(10 * time.Second))
	for {
		before := strings.Count(log.String(), "webhook delivery rejected")
		post(t, r, "/hook", "{}", nil)
		if strings.Count(log.String(), "webhook delivery rejected") > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a rejection after a quiet period was not logged:\n%s", log.String())
		}
		time.Sleep(3 * period) // quiet for longer than a period
	}
}
