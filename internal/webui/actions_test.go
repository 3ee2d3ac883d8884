package webui

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/webtest"
)

// TestListAsCSV: the list downloads as CSV, filtered as shown, every page
// of it, with formulas defused.
func TestListAsCSV(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for i := 0; i < 60; i++ {
		f.add(t, i%2, fmt.Sprintf("scan-%02d.pdf", i), "done", 1, now.Add(-time.Duration(i)*time.Minute))
	}
	f.add(t, 0, "=HYPERLINK(1).pdf", "failed", 2, now)
	srv := f.server(t, Options{})
	r := fetch(t, srv.URL+"/ui/api/files.csv?inbox="+f.inboxes[0], nil)
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/csv") || !strings.Contains(r.hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("files.csv: %d %s %s", r.code, r.hdr.Get("Content-Type"), r.hdr.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+31 {
		t.Fatalf("the CSV of inbox 0 has %d rows, want a header and its 31 files (more than a page)", len(rows))
	}
	if !slices.Equal(rows[0][:4], []string{"path", "name", "inbox", "state"}) {
		t.Errorf("header %v", rows[0])
	}
	found := false
	for _, row := range rows[1:] {
		if strings.Contains(row[1], "HYPERLINK") {
			found = true
			if row[1] != "'=HYPERLINK(1).pdf" {
				t.Errorf("a name that starts like a formula is written %q, want it quoted with an apostrophe", row[1])
			}
		}
	}
	if !found {
		t.Error("the failed file is not in the CSV")
	}
}

// TestRetryAllFailedOfAnInbox: an inbox with failures offers to retry them
// all, and says the total cost before doing it.
func TestRetryAllFailedOfAnInbox(t *testing.T) {
	f := newFixture(t)
	a := f.add(t, 0, "a.pdf", "failed", 3, time.Now())
	b := f.add(t, 0, "b.pdf", "failed", 4, time.Now())
	f.add(t, 1, "c.pdf", "failed", 5, time.Now()) // another inbox
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	sel := fmt.Sprintf(`[data-inbox=%q] button[data-key="retry-all"]`, f.inboxes[0])
	var label, text string
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(sel), chromedp.Text(sel, &label),
		chromedp.Click(sel), chromedp.WaitVisible(`#confirm[open] #c-ok`), chromedp.Text(`#c-text`, &text))
	if label != "Retry all 2 failed files" {
		t.Errorf("the inbox's button says %q", label)
	}
	if !strings.Contains(text, "2 files") || !strings.Contains(text, "7 credits") {
		t.Errorf("the confirmation says %q, want the 2 files and their total cost, 7 credits", text)
	}
	if r, _ := f.live.calls(); len(r) != 0 {
		t.Fatal("Retry was called before the confirmation")
	}
	webtest.Run(t, ctx, chromedp.Click(`#c-ok`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _ := f.live.calls()
		if len(r) == 1 {
			got := slices.Sorted(slices.Values(r[0]))
			if !slices.Equal(got, []string{a, b}) {
				t.Errorf("retried %v, want %s and %s", got, a, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Retry calls after confirming: %v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHistoryShownOnlyWhenServed: the 90 days chart and table appear when
// /api/history answers, and stay hidden when it answers 404.
func TestHistoryShownOnlyWhenServed(t *testing.T) {
	f := newFixture(t)
	f.add(t, 0, "a.pdf", "done", 1, time.Now())
	with := f.serverWithHistory(t, Options{})
	without := f.server(t, Options{})

	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	var rows int
	webtest.Run(t, ctx, chromedp.Navigate(with.URL+"/"), chromedp.WaitVisible(`#history-card svg`),
		chromedp.Evaluate(`document.querySelectorAll("#history tbody tr").length`, &rows))
	if rows != 90 {
		t.Errorf("the history table has %d rows, want 90 days", rows)
	}
	var hidden bool
	webtest.Run(t, ctx, chromedp.Navigate(without.URL+"/"), chromedp.WaitVisible(`[data-inbox]`))
	waitPolls(t, ctx, 2)
	webtest.Run(t, ctx, chromedp.Evaluate(`document.getElementById("history-card").hidden`, &hidden))
	if !hidden {
		t.Error("the history shows although /api/history answers 404")
	}
}

// TestDismissAProblem: a problem dismissed from the overview stays away.
func TestDismissAProblem(t *testing.T) {
	f := newFixture(t)
	f.add(t, 0, "blurry.pdf", "failed", 1, time.Now())
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#problems button.link`), chromedp.Click(`#problems button.link`),
		chromedp.WaitNotPresent(`#problems li`))
	waitPolls(t, ctx, 2)
	var n int
	webtest.Run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(`[data-inbox]`))
	waitPolls(t, ctx, 1)
	webtest.Run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("#problems li").length`, &n))
	if n != 0 {
		t.Errorf("after dismissing and reloading, %d problems show", n)
	}
}

// serverWithHistory serves the page as f.server does, beside a
// /api/history of 90 days as the admin endpoint answers it.
func (f *fixture) serverWithHistory(t *testing.T, o Options) *httptest.Server {
	o.Reader, o.Live, o.Activity = f.reader, f.live, f.act
	if o.Inboxes == nil {
		o.Inboxes = f.cfg.Inboxes
	}
	mux := http.NewServeMux()
	mux.Handle("/", Protect(New(o), Security{Listen: "127.0.0.1:0", NoAuth: true}))
	mux.HandleFunc("GET /api/history", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("days") != "90" {
			http.Error(w, "days", 400)
			return
		}
		var days []map[string]any
		start := time.Now().UTC().AddDate(0, 0, -89)
		for i := 0; i < 90; i++ {
			days = append(days, map[string]any{"date": start.AddDate(0, 0, i).Format("2006-01-02"), "documents": 20 + i%7*5,
				"pages": 2 * (20 + i%7*5), "credits": 2 * (20 + i%7*5), "failures": i % 11 / 10})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"days": days})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
