package webui

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/webtest"
)

var update = flag.Bool("update", false, "regenerate the screenshots in docs/img")

func TestBrowserOverviewMatchesReport(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for i, st := range []string{"done", "done", "done", "failed", "queued", "submitted", "invalid"} {
		f.add(t, i%2, fmt.Sprintf("doc-%d.pdf", i), st, 1+i, now)
	}
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`[data-inbox] [data-count="done"]`))

	rep, err := f.live.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var shown map[string]map[string]string
	webtest.Run(t, ctx, chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll("[data-inbox]")].map(c =>
		[c.dataset.inbox, Object.fromEntries([...c.querySelectorAll("[data-count]")].map(n => [n.dataset.count, n.textContent]))]))`, &shown))
	for _, in := range rep.Inboxes {
		got := shown[in.Path]
		if got == nil {
			t.Fatalf("inbox %s not on the page (page shows %v)", in.Path, shown)
		}
		for s, n := range in.Files {
			if s == "deleted" {
				continue // not on the overview
			}
			if got[s] != fmt.Sprint(n) {
				t.Errorf("inbox %s %s: page shows %q, report says %d", filepath.Base(in.Path), s, got[s], n)
			}
		}
		if got["settling"] != fmt.Sprint(in.Settling) {
			t.Errorf("inbox %s settling: page %q, report %d", in.Path, got["settling"], in.Settling)
		}
	}
	var credits string
	webtest.Run(t, ctx, chromedp.Text(`#summary .card:nth-child(2) .big`, &credits))
	if credits != "480" {
		t.Errorf("credits shown %q, report says 480", credits)
	}
}

func TestBrowserFileAppearsLive(t *testing.T) {
	f := newFixture(t)
	f.add(t, 0, "first.pdf", "done", 1, time.Now().Add(-time.Hour))
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/files"), chromedp.WaitVisible(`#files-body tr[data-path]`))

	path := f.add(t, 1, "scanned-this-morning.pdf", "queued", 2, time.Now())
	seen := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sel := fmt.Sprintf(`#files-body tr[data-path=%q]`, path)
	if err := chromedp.Run(wctx, chromedp.WaitVisible(sel)); err != nil {
		t.Fatalf("the new file did not appear within 5 s: %v", err)
	}
	took := time.Since(seen)
	t.Logf("new file on the page %v after the state recorded it", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the new file took %v to appear; the page polls every second", took)
	}
	var state string
	webtest.Run(t, ctx, chromedp.Text(sel+` .badge`, &state))
	if state != "Queued" {
		t.Errorf("its state shows %q, want Queued", state)
	}
}

func TestBrowserRetryAfterConfirming(t *testing.T) {
	f := newFixture(t)
	path := f.add(t, 0, "blurry-scan.pdf", "failed", 3, time.Now())
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(path)), chromedp.WaitVisible(`#btn-retry`))

	var fix string
	webtest.Run(t, ctx, chromedp.Text(`.fix`, &fix))
	if !strings.Contains(fix, "could not read the document") {
		t.Errorf("fix card = %q, want the plain-words explanation", fix)
	}
	var text string
	webtest.Run(t, ctx, chromedp.Click(`#btn-retry`), chromedp.WaitVisible(`#confirm[open] #c-ok`), chromedp.Text(`#c-text`, &text))
	if !strings.Contains(text, "3 credits") {
		t.Errorf("confirmation says %q, want the cost (3 credits)", text)
	}
	if r, _ := f.live.calls(); len(r) != 0 {
		t.Fatal("Retry was called before the confirmation")
	}
	webtest.Run(t, ctx, chromedp.Click(`#c-ok`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := f.live.calls()
		if len(r) == 1 && slices.Equal(r[0], []string{path}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Retry calls after confirming: %v, want one for %s", r, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScreenshots regenerates docs/img/files.png, files-phone.png,
// overview-phone.png and overview-dark.png from a day of activity (the README's overview.png and file.png come from
// a real daemon: internal/daemon's TestWebPageAgainstTheDaemon -update):
//
//	go test ./internal/webui -run TestScreenshots -update
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("screenshots are only regenerated with -update")
	}
	f := newFixture(t)
	// Paths as an office would read them (the finished files' results are
	// written there, and removed at the end).
	scans := filepath.Join(os.TempDir(), "share") // not "scans": internal/daemon's screenshots use that
	if err := os.RemoveAll(scans); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(scans) })
	for i, name := range []string{"invoices", "receipts"} {
		p := filepath.Join(scans, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		f.inboxes[i], f.cfg.Inboxes[i].Path = p, p
	}
	// The invoices keep a ledger: its link is on the overview.
	f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
	putFile(t, f.cfg.Inboxes[0].Ledger, []byte("file\r\n"))
	f.reader = store.NewFiles(f.st, f.cfg.Inboxes)
	now := time.Now()
	var mu sync.Mutex
	clock := now.Add(-23 * time.Hour)
	f.act = activity.New(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	credits := 2900
	for h := 0; h < 24; h++ {
		n := []int{0, 0, 0, 0, 0, 1, 3, 9, 14, 17, 12, 8, 11, 15, 13, 10, 7, 4, 2, 1, 0, 0, 1, 3}[(now.Hour()+1+h)%24]
		for i := 0; i < n; i++ {
			f.act.Result(time.Duration(6+i%5*3+h%4)*time.Second, 2)
			credits -= 2
		}
		f.act.Credits(credits)
		mu.Lock()
		clock = clock.Add(time.Hour)
		mu.Unlock()
	}
	mu.Lock()
	clock = now
	mu.Unlock()
	names := []string{"Acme Corp INV-2026-0412", "Globex 88123", "Initech March", "Umbrella Supplies 5521", "Stark Industries Q2",
		"Wayne Enterprises 3310", "Hooli cloud 2026-05", "Vandelay Imports 771", "Soylent 10492", "Cyberdyne 0034"}
	for i := 0; i < 46; i++ {
		st := "done"
		switch {
		case i == 3:
			st = "failed"
		case i == 9:
			st = "invalid"
		case i >= 43:
			st = "submitted"
		case i == 41 || i == 42:
			st = "queued"
		}
		f.add(t, i%2, fmt.Sprintf("%s.pdf", names[i%len(names)]+map[bool]string{true: "", false: fmt.Sprintf(" (%d)", i/len(names)+1)}[i < len(names)]), st, 1+i%4, now.Add(-time.Duration(46-i)*17*time.Minute))
	}
	srv := f.serverWithHistory(t, Options{Upload: Upload{Enabled: true}})
	out := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := []struct {
		name, url, wait string
		w, h            int
		scheme          string
		screen          bool // what fits the screen, not the whole page
	}{
		{"files.png", "/#/files", `#files-body tr[data-path]`, 1280, 900, "light", false},
		{"overview-phone.png", "/", `[data-inbox] [data-count="done"]`, 390, 844, "light", false},
		{"files-phone.png", "/#/files", `#files-body tr[data-path]`, 390, 844, "light", true},
		{"overview-dark.png", "/", `#history-card svg`, 1280, 900, "dark", false},
	}
	for _, s := range shots {
		ctx := webtest.Browser(t, s.w, s.h, 60*time.Second)
		var png []byte
		webtest.Run(t, ctx, chromedp.EmulateViewport(int64(s.w), int64(s.h)),
			emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s.scheme}}),
			chromedp.Navigate(srv.URL+s.url), chromedp.WaitVisible(s.wait),
			chromedp.Sleep(300*time.Millisecond)) // let the first poll settle the layout
		if s.screen {
			webtest.Run(t, ctx, chromedp.CaptureScreenshot(&png))
		} else {
			webtest.Run(t, ctx, chromedp.FullScreenshot(&png, 100))
		}
		if err := os.WriteFile(filepath.Join(out, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", filepath.Join(out, s.name), len(png))
	}
}
