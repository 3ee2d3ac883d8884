package webui

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/webtest"
)

// TestHistoryChartPlacesDaysByDate: a daemon with two days of history (the
// answer leaves out days without events) gets two thin bars at the right
// of the 90 days, a week apart, not two bars as wide as half the chart.
func TestHistoryChartPlacesDaysByDate(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/", Protect(New(Options{Reader: f.reader, Live: f.live, Activity: f.act, Inboxes: f.cfg.Inboxes}), Security{Listen: "127.0.0.1:0", NoAuth: true}))
	today := time.Now().UTC()
	mux.HandleFunc("GET /api/history", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"days": []map[string]any{
			{"date": today.AddDate(0, 0, -7).Format("2006-01-02"), "documents": 4, "pages": 8, "credits": 8, "failures": 0},
			{"date": today.Format("2006-01-02"), "documents": 9, "pages": 15, "credits": 15, "failures": 0},
		}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := webtest.Browser(t, 1280, 900, 60*time.Second)
	var bars []struct{ X, W, Chart float64 }
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#history-card svg rect`),
		chromedp.Evaluate(`[...document.querySelectorAll("#history-card svg rect")].map(r => ({X: +r.getAttribute("x"), W: +r.getAttribute("width"),
			Chart: +r.ownerSVGElement.viewBox.baseVal.width}))`, &bars))
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2", len(bars))
	}
	step := bars[0].Chart / 90
	for i, b := range bars {
		if b.W > step {
			t.Errorf("bar %d is %.0f wide, want at most a 90th of the chart (%.1f)", i, b.W, step)
		}
	}
	if want := bars[0].Chart - step; bars[1].X < want-1 || bars[1].X > want+1 {
		t.Errorf("today's bar is at %.1f, want the last place %.1f", bars[1].X, want)
	}
	if d := (bars[1].X - bars[0].X) / step; d < 6.9 || d > 7.1 {
		t.Errorf("the bars are %.1f days apart, want 7", d)
	}
}
