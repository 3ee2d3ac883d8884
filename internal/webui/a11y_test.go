package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/webtest"
)

// axeViolation is one rule axe-core found broken, with the nodes that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		Why    string `json:"failureSummary"`
	} `json:"nodes"`
}

// axe runs axe-core (testdata/axe, vendored with its licence) on the page
// in ctx and returns its violations of impact serious or critical.
func axe(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	src, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	var out string
	webtest.Run(t, ctx,
		chromedp.Evaluate(string(src)+";true", nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, &out,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	var all []axeViolation
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("axe answer: %v", err)
	}
	var bad []axeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v)
		}
	}
	return bad
}

func describe(vs []axeViolation) string {
	var b strings.Builder
	n := 0
	for _, v := range vs {
		n += len(v.Nodes)
		fmt.Fprintf(&b, "\n  %s (%s, %d nodes): %s", v.ID, v.Impact, len(v.Nodes), v.Help)
		for i, nd := range v.Nodes {
			if i == 3 {
				fmt.Fprintf(&b, "\n    …")
				break
			}
			fmt.Fprintf(&b, "\n    %v: %s", nd.Target, strings.ReplaceAll(nd.Why, "\n", " "))
		}
	}
	return fmt.Sprintf("%d serious or critical nodes:%s", n, b.String())
}

// TestAxeEveryView: every view of the page, at desktop and phone sizes, in
// light mode, and the views with colour in dark mode, have no serious or
// critical axe-core violation.
func TestAxeEveryView(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for i, st := range []string{"done", "done", "failed", "queued", "submitted", "invalid", "done"} {
		f.add(t, i%2, fmt.Sprintf("invoice-%d.pdf", i), st, 1+i, now.Add(-time.Duration(i)*time.Minute))
	}
	done := f.add(t, 0, "acme-march.pdf", "done", 2, now)
	failed := f.add(t, 1, "blurry.pdf", "failed", 3, now)
	photo := f.add(t, 1, "receipt.png", "done", 1, now)
	// The originals and a ledger, so that a file's page shows its preview
	// and the ledger link.
	putFile(t, done, samplePDF(t))
	putFile(t, failed, samplePDF(t))
	putFile(t, photo, samplePNG(t))
	f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
	putFile(t, f.cfg.Inboxes[0].Ledger, []byte("file\r\nacme-march.pdf\r\n"))
	f.act.Result(8*time.Second, 2)
	f.act.Credits(480)
	srv := f.serverWithHistory(t, Options{Upload: Upload{Enabled: true}})
	views := []struct{ name, url, wait string }{
		{"overview", "/", `[data-inbox] [data-count="done"]`},
		{"files", "/#/files", `#files-body tr[data-path]`},
		{"done file", "/#/file?path=" + url.QueryEscape(done), `#data-card dl`},
		{"failed file", "/#/file?path=" + url.QueryEscape(failed), `#btn-retry`},
		{"photo file", "/#/file?path=" + url.QueryEscape(photo), `#original-card img.preview`},
		{"upload", "/#/upload", `#u-types:not(:empty)`},
	}
	// Every view light at both sizes; dark mode has the same layout with
	// other colours, checked on the views that show every colour.
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		for _, scheme := range []string{"light", "dark"} {
			if scheme == "dark" && size.name == "phone" {
				continue
			}
			ctx := webtest.Browser(t, int(size.w), int(size.h), 180*time.Second)
			webtest.Run(t, ctx, chromedp.EmulateViewport(size.w, size.h),
				emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}))
			for _, v := range views {
				if scheme == "dark" && v.name == "upload" {
					continue
				}
				start := time.Now()
				webtest.Run(t, ctx, chromedp.Navigate(srv.URL+v.url), chromedp.WaitVisible(v.wait))
				t.Logf("%s %s %s: loaded in %v", v.name, size.name, scheme, time.Since(start))
				bad := axe(t, ctx)
				t.Logf("%s %s %s: checked in %v", v.name, size.name, scheme, time.Since(start))
				if len(bad) > 0 {
					t.Errorf("%s at %s size, %s: %s", v.name, size.name, scheme, describe(bad))
				}
			}
		}
	}
}

// TestKeyboardOnAPhone: at phone width every stop of the Tab key can be
// seen (no invisible sort buttons), a visible field sorts the list, every
// focus ring has 3:1 against what is behind it, the chart's labels are
// readable, and /favicon.ico answers.
func TestKeyboardOnAPhone(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for i := 0; i < 3; i++ {
		f.add(t, i%2, fmt.Sprintf("invoice-%d.pdf", i), "done", 1+i, now.Add(-time.Duration(i)*time.Minute))
	}
	f.act.Result(8*time.Second, 2)
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 390, 844, 60*time.Second)
	webtest.Run(t, ctx, chromedp.EmulateViewport(390, 844))
	for _, v := range []struct{ url, wait string }{{"/#/files", `#files-body tr[data-path]`}, {"/", `#chart svg`}} {
		webtest.Run(t, ctx, chromedp.Navigate(srv.URL+v.url), chromedp.WaitVisible(v.wait))
		var stops []struct {
			What    string  `json:"what"`
			W       float64 `json:"w"`
			H       float64 `json:"h"`
			Visible bool    `json:"visible"`
			Ring    float64 `json:"ring"`
		}
		for i := 0; i < 40; i++ {
			var s struct {
				What    string  `json:"what"`
				W       float64 `json:"w"`
				H       float64 `json:"h"`
				Visible bool    `json:"visible"`
				Ring    float64 `json:"ring"`
			}
			webtest.Run(t, ctx, chromedp.KeyEvent("\t"), chromedp.Evaluate(`(() => {
  const el = document.activeElement;
  const lum = (c) => { const m = c.match(/[\d.]+/g).map(Number); const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  let bg = getComputedStyle(document.body).backgroundColor;
  for (let e = el.parentElement; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (!/, 0\)$/.test(c) && c !== "transparent") { bg = c; break; } }
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  return { what: el.tagName + (el.id ? "#" + el.id : "") + " " + (el.textContent || "").trim().slice(0, 30), w: r.width, h: r.height,
    visible: el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) && r.width > 2 && r.height > 2,
    ring: cs.outlineStyle === "none" || parseFloat(cs.outlineWidth) === 0 ? 0 : ratio(cs.outlineColor, bg) };
})()`, &s))
			if strings.HasPrefix(s.What, "BODY ") || (len(stops) > 0 && s.What == stops[0].What) {
				break
			}
			stops = append(stops, s)
		}
		if len(stops) < 3 {
			t.Fatalf("%s: Tab reached only %v", v.url, stops)
		}
		for _, s := range stops {
			if !s.Visible {
				t.Errorf("%s: Tab stops on %q, which cannot be seen (%.0f×%.0f px)", v.url, s.What, s.W, s.H)
			}
			if s.Ring < 3 {
				t.Errorf("%s: the focus ring of %q has a contrast of %.2f:1 against what is behind it, want at least 3:1", v.url, s.What, s.Ring)
			}
		}
	}
	// The list sorts from a field a phone shows.
	var sortShown bool
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/files"), chromedp.WaitVisible(`#files-body tr[data-path]`),
		chromedp.Evaluate(`document.getElementById("f-sort").checkVisibility()`, &sortShown))
	if !sortShown {
		t.Error("no sort field can be seen at phone width")
	}
	var first string
	webtest.Run(t, ctx, chromedp.SetValue(`#f-sort`, "name"), chromedp.Evaluate(`document.getElementById("f-sort").dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible(`#files-body tr:first-child[data-path$="invoice-0.pdf"]`), chromedp.Text(`#files-body tr:first-child a`, &first))
	if first != "invoice-0.pdf" {
		t.Errorf("sorted by name, the first row is %q", first)
	}
	// The chart's labels are readable: at least 10 px tall on the screen.
	var label float64
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#chart svg text.axis`),
		chromedp.Evaluate(`Math.min(...[...document.querySelectorAll("#chart text.axis")].map(e => e.getBoundingClientRect().height))`, &label))
	if label < 10 {
		t.Errorf("the chart's axis labels are %.1f px tall on a phone, want at least 10", label)
	}
	resp, err := http.Get(srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
		t.Errorf("/favicon.ico: %d %s, want an image", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestLayoutDoesNotShift: while the overview and the list load and refresh,
// the layout shifts by at most 0.1 (Cumulative Layout Shift), at desktop
// and phone sizes: room is kept for what the first answer fills in.
func TestLayoutDoesNotShift(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for i, st := range []string{"done", "done", "failed", "queued", "submitted", "invalid", "done"} {
		f.add(t, i%2, fmt.Sprintf("invoice-%d.pdf", i), st, 1+i, now.Add(-time.Duration(i)*time.Minute))
	}
	f.act.Result(8*time.Second, 2)
	srv := f.server(t, Options{})
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		ctx := webtest.Browser(t, int(size.w), int(size.h), 60*time.Second)
		webtest.Run(t, ctx, chromedp.EmulateViewport(size.w, size.h), chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(`window.__cls = 0; new PerformanceObserver((l) => {
  for (const e of l.getEntries()) if (!e.hadRecentInput) window.__cls += e.value; }).observe({ type: "layout-shift", buffered: true });`).Do(ctx)
			return err
		}))
		for _, v := range []struct{ url, wait string }{{"/", `[data-inbox] [data-count="done"]`}, {"/#/files", `#files-body tr[data-path]`}} {
			var cls float64
			webtest.Run(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(srv.URL+v.url), chromedp.WaitVisible(v.wait))
			waitPolls(t, ctx, 2)
			webtest.Run(t, ctx, chromedp.Evaluate(`window.__cls`, &cls))
			t.Logf("%s at %s size: CLS %.3f", v.url, size.name, cls)
			if cls > 0.1 {
				t.Errorf("%s at %s size: the layout shifted by %.3f while loading, want at most 0.1", v.url, size.name, cls)
			}
		}
	}
}
