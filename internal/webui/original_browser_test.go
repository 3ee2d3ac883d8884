package webui

import (
	"encoding/json"
	"github.com/ppsync/ppsync/internal/errcode"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/webtest"
)

// TestBrowserOriginalAndLedger: a file's page shows its original (a PDF in
// a frame, a photo as an image) and links to its inbox's ledger; the
// overview links each inbox's ledger; what the links point at answers.
func TestBrowserOriginalAndLedger(t *testing.T) {
	f := newFixture(t)
	pdfPath := f.add(t, 0, "acme-march.pdf", "done", 1, time.Now())
	putFile(t, pdfPath, samplePDF(t))
	pngPath := f.add(t, 1, "receipt.png", "done", 1, time.Now())
	putFile(t, pngPath, samplePNG(t))
	f.cfg.Inboxes[0].Ledger = filepath.Join(f.inboxes[0], "invoices.csv")
	putFile(t, f.cfg.Inboxes[0].Ledger, []byte("file\r\nacme-march.pdf\r\n"))
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)

	// The overview: a ledger link on the inbox that keeps one only.
	var links map[string]string
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`[data-inbox] a[data-ledger]`),
		chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll("[data-inbox]")].map(c =>
			[c.dataset.inbox, (c.querySelector("a[data-ledger]") || {}).textContent || ""]))`, &links))
	if links[f.inboxes[0]] != "Download the ledger (invoices.csv)" || links[f.inboxes[1]] != "" {
		t.Errorf("ledger links on the overview: %q, want one on %s only", links, f.inboxes[0])
	}

	// A PDF's page: the preview frame and the ledger link, both answered.
	type shown struct {
		Src, Tag, Ledger string
		Status           int
		Type             string
		LedgerStatus     int
		LedgerType       string
		Loaded           bool
	}
	probe := `(async () => {
		const p = document.querySelector("#original-card .preview"), l = document.querySelector("#original-card a[data-ledger]");
		const r = await fetch(p.getAttribute("src"));
		const out = {Src: p.getAttribute("src"), Tag: p.tagName, Status: r.status, Type: r.headers.get("content-type"),
			Loaded: p.tagName !== "IMG" || (p.complete && p.naturalWidth > 0)};
		if (l) { const lr = await fetch(l.getAttribute("href")); out.Ledger = l.getAttribute("href"); out.LedgerStatus = lr.status; out.LedgerType = lr.headers.get("content-type"); }
		return out;
	})()`
	var got shown
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(pdfPath)), chromedp.WaitVisible(`#original-card iframe.preview`),
		chromedp.Evaluate(probe, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if got.Src != "/ui/api/original?path="+url.QueryEscape(pdfPath) || got.Status != 200 || got.Type != "application/pdf" {
		t.Errorf("PDF preview: %+v, want a frame of /ui/api/original for %s answering 200 application/pdf", got, pdfPath)
	}
	if got.Ledger != "/ui/api/ledger?inbox="+url.QueryEscape(f.inboxes[0]) || got.LedgerStatus != 200 || got.LedgerType != "text/csv; charset=utf-8" {
		t.Errorf("ledger link on the file's page: %+v, want the inbox's ledger, answering 200 text/csv", got)
	}
	var title string
	webtest.Run(t, ctx, chromedp.AttributeValue(`#original-card iframe.preview`, "title", &title, nil))
	if title != "The original of acme-march.pdf" {
		t.Errorf("the frame's title is %q, want it to say what it shows", title)
	}

	// A photo's page: an image that loaded; its inbox keeps no ledger.
	got = shown{}
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(pngPath)), chromedp.WaitVisible(`#original-card img.preview`),
		chromedp.Poll(`document.querySelector("#original-card img.preview").complete`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(probe, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if got.Tag != "IMG" || got.Status != 200 || got.Type != "image/png" || !got.Loaded || got.Ledger != "" {
		t.Errorf("photo preview: %+v, want a loaded image of type image/png and no ledger link", got)
	}
}

// TestGermanFixTexts: every error code the page explains has its problem
// and its fix in German, and a German browser is shown them.
func TestGermanFixTexts(t *testing.T) {
	b, err := os.ReadFile("static/i18n/de.json")
	if err != nil {
		t.Fatal(err)
	}
	var de map[string]string
	if err := json.Unmarshal(b, &de); err != nil {
		t.Fatal(err)
	}
	// Every code a file can end with (the page shows a fix for those); the
	// catalogue's "HTTP_<status>" stands for many codes the page cannot
	// name one by one, so its fix stays the server's English.
	fixes := map[string]bool{}
	for _, e := range errcode.All() {
		if e.OnFile && e.Code != errcode.HTTPStatus {
			fixes[e.Code] = true
		}
	}
	for code := range fixes {
		for _, part := range []string{"problem", "action"} {
			if de["fix."+code+"."+part] == "" {
				t.Errorf("de.json has no fix.%s.%s", code, part)
			}
		}
	}
	for k := range de {
		if code, ok := strings.CutPrefix(k, "fix."); ok {
			code = code[:strings.LastIndexByte(code, '.')]
			if _, known := fixes[code]; !known {
				t.Errorf("de.json has %s, but no fix has the code %s", k, code)
			}
		}
	}

	f := newFixture(t)
	failed := f.add(t, 0, "unscharf.pdf", "failed", 1, time.Now())
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "de-DE,de;q=0.9"}))
	var fix string
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(failed)), chromedp.WaitVisible(`.fix`), chromedp.Text(`.fix`, &fix))
	for _, want := range []string{de["fix.EXTRACTION_FAILED.problem"], de["fix.EXTRACTION_FAILED.action"]} {
		if !strings.Contains(fix, want) {
			t.Errorf("the German fix card says %q, want %q in it", fix, want)
		}
	}
	if e, _ := errcode.Lookup("EXTRACTION_FAILED"); strings.Contains(fix, e.Meaning) {
		t.Errorf("the German fix card still says the English %q", e.Meaning)
	}
}
