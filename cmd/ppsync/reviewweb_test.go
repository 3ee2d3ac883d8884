package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/webtest"
)

var reviewShot = flag.Bool("review-screenshot", false, "write the review view's screenshot to docs/img/review.png")

// The review view on the status page of a real daemon, used with the
// keyboard alone: a approves the oldest result (with a field corrected by
// typing), the next one opens, r rejects it, and the queue is empty.
func TestReviewViewKeyboardOnly(t *testing.T) {
	ctx := webtest.Browser(t, 1400, 900, 90*time.Second)
	cfgPath, cfg, emu := reviewDaemon(t, map[string][]byte{
		"first.pdf":  reviewInvoice(t, 11, emulator.BadSumMarker),
		"second.pdf": reviewInvoice(t, 12, emulator.LowConfidenceMarker),
	})
	inbox := filepath.Join(filepath.Dir(cfgPath), "inbox")
	charged := emu.Stats().PagesCharged
	c := admin.NewClient(cfg)
	l := waitQueue(t, c, 2)
	first, second := l.Items[0].File, l.Items[1].File
	link, _, err := c.LoginLink(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + cfg.Admin.Listen
	webtest.Run(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(`#main`),
		chromedp.Navigate(base+"/#/review"), chromedp.WaitVisible(`#rv-title`),
		chromedp.WaitVisible(`.rv-reason[data-rule="sums"]`), chromedp.WaitVisible(`iframe.rv-original`))
	var title string
	var flagged []string
	webtest.Run(t, ctx, chromedp.Text(`#rv-title`, &title),
		chromedp.Evaluate(`[...document.querySelectorAll("tr.rv-flag")].map(r => r.dataset.field)`, &flagged))
	if title != filepath.Base(first) || strings.Join(flagged, ",") != "total_amount" {
		t.Fatalf("first item %q, flagged %v; want %s with total_amount highlighted", title, flagged, filepath.Base(first))
	}
	if *reviewShot {
		var png []byte
		webtest.Run(t, ctx, chromedp.Sleep(time.Second), chromedp.CaptureScreenshot(&png))
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "review.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Correct the total with the keyboard: Tab to the field (its text is
	// selected on focus), type, leave it with Escape, then approve with a.
	tabTo(t, ctx, "rv-f-total_amount")
	webtest.Run(t, ctx, chromedp.KeyEvent("99.5"), chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent("a"))
	waitText(t, ctx, `#rv-title`, filepath.Base(second))
	res, err := os.ReadFile(results.ResultPath(first))
	if err != nil || !strings.Contains(string(res), `"total_amount": 99.5`) || !strings.Contains(string(res), `"decision": "approved"`) {
		t.Fatalf("approved from the page: %v\n%s", err, res)
	}
	webtest.Run(t, ctx, chromedp.KeyEvent("r"), chromedp.WaitVisible(`#rv-empty`))
	if b, err := os.ReadFile(results.ErrorPath(second)); err != nil || !strings.Contains(string(b), "REJECTED_IN_REVIEW") {
		t.Fatalf("rejected from the page: %v %s", err, b)
	}
	if exists(results.ReviewPath(first)) || exists(results.ReviewPath(second)) || emu.Stats().PagesCharged != charged {
		t.Fatal("held files left, or a decision charged again")
	}
	_ = inbox
}

// tabTo presses Tab until the element with id has the focus.
func tabTo(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	for range 60 {
		var focused string
		webtest.Run(t, ctx, chromedp.Evaluate(`document.activeElement ? document.activeElement.id : ""`, &focused))
		if focused == id {
			return
		}
		webtest.Run(t, ctx, chromedp.KeyEvent(kb.Tab))
	}
	t.Fatalf("Tab never reached #%s", id)
}

func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got string
		webtest.Run(t, ctx, chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &got))
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %q, want %q", sel, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
