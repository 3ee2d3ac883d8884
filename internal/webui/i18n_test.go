package webui

import (
	"encoding/json"
	"html"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/webtest"
)

// pageKeys are the texts the page translates: the literal keys of t() and
// plural() in app.js, and the elements and attributes index.html marks.
func pageKeys(t *testing.T) []string {
	t.Helper()
	js, err := os.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, re := range []string{`\bt\("((?:[^"\\]|\\.)*)"`, `plural\([^,]+, "((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)"`,
		`t\(action === "retry" \? "([^"]+)" : "([^"]+)"`, `"\{name\} (?:done|failed|refused)"`} {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(string(js), -1) {
			if len(m) == 1 {
				add(strings.Trim(m[0], `"`))
			}
			for _, k := range m[1:] {
				add(k)
			}
		}
	}
	for _, m := range regexp.MustCompile(`<[^>]*\sdata-i18n(?:\s[^>]*)?>([^<]*)<`).FindAllStringSubmatch(string(page), -1) {
		add(html.UnescapeString(strings.TrimSpace(m[1])))
	}
	for _, m := range regexp.MustCompile(`<[^>]*\bdata-i18n-attr="([^"]+)"[^>]*>`).FindAllStringSubmatch(string(page), -1) {
		for _, a := range strings.Split(m[1], ",") {
			add(html.UnescapeString(regexp.MustCompile(a + `="([^"]*)"`).FindStringSubmatch(m[0])[1]))
		}
	}
	add(regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(string(page))[1])
	return keys
}

// TestCataloguesAreComplete: every text of the page is in every catalogue
// (static/i18n/*.json), translated with the same placeholders.
func TestCataloguesAreComplete(t *testing.T) {
	keys := pageKeys(t)
	if len(keys) < 100 {
		t.Fatalf("found only %d texts in the page: the extraction is broken", len(keys))
	}
	cats, err := os.ReadDir("static/i18n")
	if err != nil {
		t.Fatal(err)
	}
	placeholders := regexp.MustCompile(`\{\w+\}`)
	for _, c := range cats {
		b, err := os.ReadFile("static/i18n/" + c.Name())
		if err != nil {
			t.Fatal(err)
		}
		var cat map[string]string
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		for _, k := range keys {
			v, ok := cat[k]
			switch {
			case !ok || v == "":
				t.Errorf("%s has no translation of %q", c.Name(), k)
			case !slices.Equal(sorted(placeholders.FindAllString(k, -1)), sorted(placeholders.FindAllString(v, -1))):
				t.Errorf("%s: %q has placeholders %v, its translation %q has %v", c.Name(), k,
					placeholders.FindAllString(k, -1), v, placeholders.FindAllString(v, -1))
			}
		}
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestLanguageFromAcceptLanguage: the page's language follows
// Accept-Language, English when no catalogue fits.
func TestLanguageFromAcceptLanguage(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{})
	for _, c := range []struct{ accept, lang string }{
		{"de-DE,de;q=0.9,en;q=0.8", "de"}, {"de-AT", "de"}, {"fr-FR, de;q=0.5", "de"}, {"en-GB", "en"}, {"fr", "en"}, {"", "en"},
	} {
		r := fetch(t, srv.URL+"/", map[string]string{"Accept-Language": c.accept})
		m := regexp.MustCompile(`<html lang="(\w+)" data-catalogue="/ui/static/i18n/(\w+)\.[0-9a-f]+\.json"`).FindStringSubmatch(r.body)
		if m == nil || m[1] != c.lang || m[2] != c.lang {
			t.Errorf("Accept-Language %q: page starts %q, want lang %s and its catalogue", c.accept, r.body[:min(len(r.body), 200)], c.lang)
		}
		if !strings.Contains(r.hdr.Get("Vary"), "Accept-Language") {
			t.Errorf("the page's Vary is %q, want Accept-Language in it", r.hdr.Get("Vary"))
		}
	}
}

// TestGermanPage: with Accept-Language: de the page speaks German and
// writes numbers and amounts the German way.
func TestGermanPage(t *testing.T) {
	f := newFixture(t)
	done := f.add(t, 0, "rechnung.pdf", "done", 2, time.Now())
	srv := f.server(t, Options{})
	ctx := webtest.Browser(t, 1200, 900, 60*time.Second)
	webtest.Run(t, ctx, network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "de-DE,de;q=0.9"}))
	var nav, heading, total string
	webtest.Run(t, ctx, chromedp.Navigate(srv.URL+"/#/file?path="+url.QueryEscape(done)), chromedp.WaitVisible(`#data-card dl`),
		chromedp.Text(`[data-nav="overview"]`, &nav), chromedp.Text(`#data-card h2`, &heading),
		chromedp.Evaluate(`[...document.querySelectorAll("#data-card dd")].map(d => d.textContent).join("|")`, &total))
	if nav != "Übersicht" || heading != "Ausgelesene Daten" {
		t.Errorf("with Accept-Language: de the page shows %q and %q, want Übersicht and Ausgelesene Daten", nav, heading)
	}
	if !strings.Contains(total, "1.250,75") {
		t.Errorf("the amount 1250.75 is shown as %q, want 1.250,75", total)
	}
}
