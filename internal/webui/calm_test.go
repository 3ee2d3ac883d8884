package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webtest"
)

// waitPolls waits until the page has finished n more refreshes.
func waitPolls(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	var at int
	webtest.Run(t, ctx, chromedp.Evaluate(`Number(document.documentElement.dataset.polls || 0)`, &at))
	webtest.Run(t, ctx, chromedp.Poll(fmt.Sprintf(`Number(document.documentElement.dataset.polls || 0) >= %d`, at+n), nil,
		chromedp.WithPollingTimeout(30*time.Second)))
}

// TestFocusSurvivesPolls: a link in the list keeps the keyboard focus while
// the list changes under it for five refreshes, and the live region says
// only what happened, never the time of each refresh.
func TestFocusSurvivesPolls(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	path := f.add(t, 0, "invoice-7.pdf", "queued", 2, now.Add(-time.Hour))
	f.add(t, 1, "older.pdf", "done", 1, now.Add(-2*time.Hour))
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 90*time.Second)
	sel := fmt.Sprintf(`#files-body tr[data-path=%q] a`, path)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/files"), chromedp.WaitVisible(sel), chromedp.Focus(sel),
		chromedp.Evaluate(`document.activeElement.__marked = true; document.getElementById("announce").textContent`, nil))
	var said []string
	for i := 0; i < 5; i++ {
		// Each refresh brings a new row above the focused one.
		f.add(t, 1, fmt.Sprintf("new-%d.pdf", i), "queued", 1, time.Now())
		waitPolls(t, ctx, 1)
		var s string
		webtest.Run(t, ctx, chromedp.Evaluate(`document.getElementById("announce").textContent`, &s))
		said = append(said, s)
	}
	var marked bool
	var rows int
	webtest.Run(t, ctx, chromedp.Evaluate(`document.activeElement.__marked === true`, &marked),
		chromedp.Evaluate(`document.querySelectorAll("#files-body tr[data-path]").length`, &rows))
	if rows != 7 {
		t.Fatalf("the list shows %d rows, want the 7 files", rows)
	}
	if !marked {
		var now string
		webtest.Run(t, ctx, chromedp.Evaluate(`document.activeElement.outerHTML.slice(0, 120)`, &now))
		t.Errorf("after 5 refreshes the focus is on %s, not on the link it was on", now)
	}
	for _, s := range said {
		if s != "" {
			t.Errorf("the live region said %q while nothing finished", s)
		}
	}
	// A real event is said, by name.
	err := f.st.Update(func(tx *state.Tx) error {
		rec, _, err := tx.File(path)
		if err != nil {
			return err
		}
		rec.State, rec.Updated = state.FileDone, time.Now()
		return tx.SeedFile(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	webtest.Run(t, ctx, chromedp.Poll(`document.getElementById("announce").textContent`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	var s string
	webtest.Run(t, ctx, chromedp.Evaluate(`document.getElementById("announce").textContent`, &s))
	if s != "invoice-7.pdf done" {
		t.Errorf("when the file was done the live region said %q, want %q", s, "invoice-7.pdf done")
	}
	var live string
	webtest.Run(t, ctx, chromedp.Evaluate(`document.getElementById("live").getAttribute("aria-live") || ""`, &live))
	if live != "" {
		t.Errorf("the connection indicator is a live region (aria-live=%q): it would be read out every second", live)
	}
}

// TestFocusFollowsNavigation: after following a link the focus is on the
// new view's heading; after a retry it is back on the file's row in the list.
func TestFocusFollowsNavigation(t *testing.T) {
	f := newFixture(t)
	path := f.add(t, 0, "blurry-scan.pdf", "failed", 3, time.Now())
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	sel := fmt.Sprintf(`#files-body tr[data-path=%q] a`, path)
	var id string
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`[data-inbox]`),
		chromedp.Click(`[data-nav="files"]`), chromedp.WaitVisible(sel),
		chromedp.Poll(`document.activeElement.id`, &id, chromedp.WithPollingTimeout(5*time.Second)))
	if id != "h-files" {
		t.Errorf("after opening Files the focus is on %q, want the heading h-files", id)
	}
	webtest.Run(t, ctx, chromedp.Click(sel), chromedp.WaitVisible(`#btn-retry`),
		chromedp.Poll(`document.activeElement.id`, &id, chromedp.WithPollingTimeout(5*time.Second)))
	if id != "h-file" {
		t.Errorf("after opening a file the focus is on %q, want its heading h-file", id)
	}
	webtest.Run(t, ctx, chromedp.Click(`#btn-retry`), chromedp.WaitVisible(`#confirm[open] #c-ok`), chromedp.Click(`#c-ok`),
		chromedp.WaitVisible(sel))
	var on string
	webtest.Run(t, ctx, chromedp.Poll(`document.activeElement.closest("tr") && document.activeElement.closest("tr").dataset.path`, &on,
		chromedp.WithPollingTimeout(5*time.Second)))
	if on != path {
		t.Errorf("after the retry the focus is on the row of %q, want %q", on, path)
	}
}

// TestDaemonStopsAndRestarts: when the daemon stops answering, a banner
// says since when and the live numbers turn grey, while the file's page
// stays readable; when it answers again as a new process, the page says it
// restarted.
func TestDaemonStopsAndRestarts(t *testing.T) {
	f := newFixture(t)
	path := f.add(t, 0, "acme.pdf", "done", 2, time.Now())
	f.live.mu.Lock()
	f.live.started = time.Now().Add(-time.Hour)
	f.live.mu.Unlock()
	var down atomic.Bool
	page := Protect(New(Options{Reader: f.reader, Live: f.live, Activity: f.act}), Security{Listen: "127.0.0.1:0", NoAuth: true})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() { // a stopped daemon: the connection just ends
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		page.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(path)), chromedp.WaitVisible(`#data-card dl`))
	waitPolls(t, ctx, 1)

	down.Store(true)
	var banner string
	webtest.Run(t, ctx, chromedp.WaitVisible(`#banner-lost`), chromedp.Text(`#lost-text`, &banner))
	if !regexp.MustCompile(`not answering since \d\d:\d\d:\d\d`).MatchString(banner) {
		t.Errorf("banner says %q, want that ppsync is not answering and since when", banner)
	}
	var stale bool
	var fileText, badge, muted string
	webtest.Run(t, ctx, chromedp.Evaluate(`document.body.classList.contains("stale")`, &stale),
		chromedp.Text(`#file`, &fileText),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#file .file-head .badge")).color`, &badge),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#file .path")).color`, &muted))
	if !stale {
		t.Error("the page is not marked stale while the daemon is gone")
	}
	if !strings.Contains(fileText, "Acme Corp") || !strings.Contains(fileText, "acme.pdf") {
		t.Errorf("the file's page did not stay readable: %q", fileText)
	}
	if badge != muted {
		t.Errorf("the file's state badge is %s while the daemon is gone, want the grey of old numbers (%s)", badge, muted)
	}

	f.live.mu.Lock()
	f.live.started = time.Now()
	f.live.mu.Unlock()
	down.Store(false)
	var notice string
	webtest.Run(t, ctx, chromedp.WaitVisible(`#banner-restart`), chromedp.WaitNotVisible(`#banner-lost`), chromedp.Text(`#restart-text`, &notice))
	if !strings.Contains(notice, "ppsync restarted at") {
		t.Errorf("after the restart the notice says %q", notice)
	}
	webtest.Run(t, ctx, chromedp.Evaluate(`document.body.classList.contains("stale")`, &stale))
	if stale {
		t.Error("the page stays grey after the daemon answers again")
	}
}
