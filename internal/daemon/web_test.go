package daemon_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/webtest"
)

var update = flag.Bool("update", false, "regenerate the screenshots in docs/img from a real daemon")

// webConfig is the fast test config with the admin endpoint on listen,
// adminKeys added to [admin], and one inbox per name under e.root.
func (e *env) webConfig(listen, adminKeys string, inboxes ...string) *config.Config {
	e.t.Helper()
	text := e.fastTables(listen) + adminKeys + "\n"
	for _, in := range inboxes {
		if err := os.MkdirAll(filepath.Join(e.root, in), 0o755); err != nil {
			e.t.Fatal(err)
		}
		text += fmt.Sprintf("[[inbox]]\npath = %q\nparser_id = \"prs_invoice\"\nsettle = \"150ms\"\nrescan_interval = \"300ms\"\n", in)
	}
	return e.parse(text)
}

// port is a free TCP port number.
func port(t *testing.T) string {
	t.Helper()
	_, p, _ := net.SplitHostPort(freePort(t))
	return p
}

// status is what `ppsync status --json` prints for cfg: the daemon's /status.
func status(t *testing.T, cfg *config.Config) report.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := admin.NewClient(cfg).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// within runs actions with a deadline of d.
func within(ctx context.Context, d time.Duration, actions ...chromedp.Action) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(wctx, actions...)
}

// pageCounts reads the overview's counts per inbox path.
func pageCounts(t *testing.T, ctx context.Context) map[string]map[string]string {
	t.Helper()
	var shown map[string]map[string]string
	webtest.Run(t, ctx, chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll("[data-inbox]")].map(c =>
		[c.dataset.inbox, Object.fromEntries([...c.querySelectorAll("[data-count]")].map(n => [n.dataset.count, n.textContent]))]))`, &shown))
	return shown
}

// countsDiffer says where the page and the report disagree ("" when they agree).
func countsDiffer(shown map[string]map[string]string, rep report.Report) string {
	var diff []string
	for _, in := range rep.Inboxes {
		got := shown[in.Path]
		if got == nil {
			return "inbox " + in.Path + " not on the page"
		}
		for s, n := range in.Files {
			if s != report.Gone && got[s] != fmt.Sprint(n) {
				diff = append(diff, fmt.Sprintf("%s %s: page %q, status %d", filepath.Base(in.Path), s, got[s], n))
			}
		}
		if got["settling"] != fmt.Sprint(in.Settling) {
			diff = append(diff, fmt.Sprintf("%s settling: page %q, status %d", filepath.Base(in.Path), got["settling"], in.Settling))
		}
	}
	return strings.Join(diff, "; ")
}

// TestWebPageAgainstTheDaemon drives the status page of a real daemon
// (with the emulator) in a headless browser.
func TestWebPageAgainstTheDaemon(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	if *update {
		// Paths as an office would read them in the screenshots.
		e.root = filepath.Join(os.TempDir(), "scans")
		if err := os.RemoveAll(e.root); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(e.root) })
	}
	cfg := e.webConfig("127.0.0.1:"+port(t), "upload = true", "invoices", "receipts")
	invoices, receipts := cfg.Inboxes[0].Path, cfg.Inboxes[1].Path
	cfg.Inboxes[0].Ledger = filepath.Join(e.root, "invoices-ledger.csv") // outside the inbox: never picked up
	var good []string
	for n := 1; n <= 3; n++ {
		p := filepath.Join(invoices, invoiceName(n))
		write(t, p, pdf(t, n, 1+n%2))
		good = append(good, p)
	}
	receipt := filepath.Join(receipts, invoiceName(4))
	write(t, receipt, pdf(t, 4, 1))
	failed := filepath.Join(invoices, "blurry scan.pdf")
	write(t, failed, pdf(t, 5, 2, emulator.FailMarker))
	junk := filepath.Join(receipts, "not really a pdf.pdf")
	write(t, junk, []byte("this is a text file"))
	stop := e.start(cfg)
	defer stop()
	e.waitFor("the first files to finish", 30*time.Second, func() bool {
		for _, p := range good {
			if !exists(results.ResultPath(p)) {
				return false
			}
		}
		return exists(results.ResultPath(receipt)) && exists(results.ErrorPath(failed)) && exists(results.ErrorPath(junk))
	})
	base := "http://" + cfg.Admin.Listen

	ctx := webtest.Browser(t, 1280, 1000, 90*time.Second)
	// Sign the browser in with the one-time link `ppsync status` prints.
	link, _, err := admin.NewClient(cfg).LoginLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	webtest.Run(t, ctx, chromedp.Navigate(link))
	t.Run("overview counts match status --json", func(t *testing.T) {
		webtest.Run(t, ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`[data-inbox] [data-count="done"]`))
		var diff string
		deadline := time.Now().Add(patience.Scale(5 * time.Second))
		for {
			rep := status(t, cfg)
			if diff = countsDiffer(pageCounts(t, ctx), rep); diff == "" {
				if rep.Inboxes[0].Files[report.Done] != 3 || rep.Inboxes[0].Files[report.Failed] != 1 || rep.Inboxes[1].Files[report.Invalid] != 1 {
					t.Fatalf("status does not count what was dropped: %+v", rep.Inboxes)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the page's counts differ from status --json: %s", diff)
			}
			time.Sleep(200 * time.Millisecond)
		}
		var credits string
		webtest.Run(t, ctx, chromedp.Text(`#summary .card:nth-child(2) .big`, &credits))
		if rep := status(t, cfg); rep.CreditsAvailable == nil || strings.ReplaceAll(credits, ",", "") != fmt.Sprint(*rep.CreditsAvailable) {
			t.Errorf("credits shown %q, status says %v", credits, rep.CreditsAvailable)
		}
	})

	t.Run("a file's page shows its original and links its inbox's ledger", func(t *testing.T) {
		// The ledger is written a moment after the results, and may first
		// be written before this file's row: wait for the row itself.
		number := invoiceNumber(t, readResult(t, good[1]))
		e.waitFor("the file's row in the ledger", 20*time.Second, func() bool {
			b, err := os.ReadFile(cfg.Inboxes[0].Ledger)
			return err == nil && strings.Contains(string(b), number)
		})
		var got struct {
			Src, Type, Ledger, LedgerType, LedgerBody string
			Status, LedgerStatus                      int
		}
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/file?path="+url.QueryEscape(good[1])), chromedp.WaitVisible(`#original-card iframe.preview`),
			chromedp.Evaluate(`(async () => {
				const p = document.querySelector("#original-card .preview").getAttribute("src");
				const l = document.querySelector("#original-card a[data-ledger]").getAttribute("href");
				const r = await fetch(p), lr = await fetch(l);
				return {Src: p, Status: r.status, Type: r.headers.get("content-type"),
					Ledger: l, LedgerStatus: lr.status, LedgerType: lr.headers.get("content-type"), LedgerBody: await lr.text()};
			})()`, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if got.Status != 200 || got.Type != "application/pdf" {
			t.Errorf("the original %s answers %d %s, want 200 application/pdf", got.Src, got.Status, got.Type)
		}
		if got.LedgerStatus != 200 || got.LedgerType != "text/csv; charset=utf-8" || !strings.Contains(got.LedgerBody, number) {
			t.Errorf("the ledger %s answers %d %s %q, want 200 text/csv with the file's row", got.Ledger, got.LedgerStatus, got.LedgerType, got.LedgerBody)
		}
	})

	t.Run("a dropped file appears live and ends done with its data card", func(t *testing.T) {
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/files"), chromedp.WaitVisible(`#files-body tr[data-path]`))
		dropped := filepath.Join(invoices, "scanned this morning.pdf")
		write(t, dropped, pdf(t, 6, 2))
		dropAt := time.Now()
		row := fmt.Sprintf(`#files-body tr[data-path=%q]`, dropped)
		if err := within(ctx, 10*time.Second, chromedp.WaitVisible(row)); err != nil {
			t.Fatalf("the dropped file did not appear on the page: %v", err)
		}
		t.Logf("dropped file on the page %v after it was written (settle is 150 ms)", time.Since(dropAt).Round(time.Millisecond))
		var badge string
		deadline := time.Now().Add(patience.Scale(20 * time.Second))
		for badge != "Done" {
			if time.Now().After(deadline) {
				t.Fatalf("the dropped file shows %q, not Done", badge)
			}
			time.Sleep(100 * time.Millisecond)
			webtest.Run(t, ctx, chromedp.Text(row+` .badge`, &badge))
		}
		var card string
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/file?path="+url.QueryEscape(dropped)), chromedp.WaitVisible(`#data-card table`),
			chromedp.Text(`#data-card`, &card))
		if want := invoiceNumber(t, readResult(t, dropped)); !strings.Contains(card, want) {
			t.Errorf("the data card does not show the invoice number %s:\n%s", want, card)
		}
	})

	t.Run("a failed file is retried from the button", func(t *testing.T) {
		before := e.emu.Stats()
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/file?path="+url.QueryEscape(failed)), chromedp.WaitVisible(`#btn-retry`))
		var text string
		webtest.Run(t, ctx, chromedp.Click(`#btn-retry`), chromedp.WaitVisible(`#confirm[open] #c-ok`), chromedp.Text(`#c-text`, &text))
		if !strings.Contains(text, "2 credits") {
			t.Errorf("the confirmation says %q; want the cost (2 credits)", text)
		}
		if e.emu.Stats().DocumentsCreated != before.DocumentsCreated {
			t.Fatal("sent before the confirmation")
		}
		webtest.Run(t, ctx, chromedp.Click(`#c-ok`))
		e.waitFor("the retried file to be sent again and fail again", 20*time.Second, func() bool {
			return e.emu.Stats().DocumentsCreated > before.DocumentsCreated && exists(results.ErrorPath(failed)) &&
				status(t, cfg).Inboxes[0].Files[report.Failed] == 1
		})
		if s := e.emu.Stats(); s.IdempotentReplays != before.IdempotentReplays || s.DocumentsCreated != before.DocumentsCreated+1 {
			t.Errorf("the retry made %d documents and %d idempotent replays; want one new document", s.DocumentsCreated-before.DocumentsCreated, s.IdempotentReplays-before.IdempotentReplays)
		}
		// After the retry the page is back on the list, on the file's row.
		var retries string
		webtest.Run(t, ctx, chromedp.WaitVisible(fmt.Sprintf(`#files-body tr[data-path=%q]`, failed)),
			chromedp.Navigate(base+"/#/file?path="+url.QueryEscape(failed)),
			chromedp.WaitVisible(`#btn-retry`), chromedp.Evaluate(`[...document.querySelectorAll("dt")].find(d => d.textContent == "Retries")?.nextSibling.textContent || ""`, &retries))
		if retries != "1" {
			t.Errorf("the file page shows retries %q, want 1", retries)
		}
	})

	t.Run("a finished file is processed again from the button", func(t *testing.T) {
		p := good[0]
		old, err := os.ReadFile(results.ResultPath(p))
		if err != nil {
			t.Fatal(err)
		}
		before := e.emu.Stats()
		var text string
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/file?path="+url.QueryEscape(p)), chromedp.WaitVisible(`#btn-reprocess`),
			chromedp.Click(`#btn-reprocess`), chromedp.WaitVisible(`#confirm[open] #c-ok`), chromedp.Text(`#c-text`, &text))
		if !strings.Contains(text, "2 credits") {
			t.Errorf("the confirmation says %q; want the cost (2 credits)", text)
		}
		webtest.Run(t, ctx, chromedp.Click(`#c-ok`))
		e.waitFor("the finished file to be processed again", 20*time.Second, func() bool {
			b, err := os.ReadFile(results.ResultPath(p))
			return err == nil && string(b) != string(old) && e.emu.Stats().DocumentsCreated > before.DocumentsCreated
		})
		if s := e.emu.Stats(); s.PagesCharged != before.PagesCharged+2 || s.IdempotentReplays != before.IdempotentReplays || s.DocumentsCreated != before.DocumentsCreated+1 {
			t.Errorf("documents +%d, pages charged +%d, replays +%d: want one new job of 2 pages",
				s.DocumentsCreated-before.DocumentsCreated, s.PagesCharged-before.PagesCharged, s.IdempotentReplays-before.IdempotentReplays)
		}
	})

	t.Run("an upload lands a file that is then processed", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "from the desk.pdf")
		write(t, src, pdf(t, 7, 1))
		var inbox string
		webtest.Run(t, ctx, chromedp.Navigate(base+"/#/upload"), chromedp.WaitVisible(`#u-file`, chromedp.ByID),
			chromedp.SetValue(`#u-inbox`, "1", chromedp.ByID), chromedp.Value(`#u-inbox`, &inbox, chromedp.ByID),
			chromedp.SetUploadFiles(`#u-file`, []string{src}, chromedp.ByID))
		if err := within(ctx, 10*time.Second, chromedp.WaitVisible(`#u-log li.ok`)); err != nil {
			var log string
			_ = chromedp.Run(ctx, chromedp.Text(`#u-log`, &log))
			t.Fatalf("upload not confirmed: %v (%s)", err, log)
		}
		landed := filepath.Join(receipts, "from the desk.pdf")
		e.waitFor("the uploaded file's result", 20*time.Second, func() bool { return exists(results.ResultPath(landed)) })
		if got := invoiceNumber(t, readResult(t, landed)); got != "INV-2026-00007" {
			t.Errorf("uploaded file's result has invoice %q", got)
		}
		if tmp, _ := filepath.Glob(filepath.Join(receipts, ".upload.ppsync-*")); len(tmp) > 0 {
			t.Errorf("upload temp files left behind: %v", tmp)
		}
	})

	t.Run("cross-site requests are refused", func(t *testing.T) {
		// A cross-site request comes from the signed-in person's browser,
		// with the session cookie: the session must not be enough.
		link, _, err := admin.NewClient(cfg).LoginLink(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar}
		if resp, err := browser.Get(link); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("sign in with %s: %v %v", link, resp, err)
		} else {
			resp.Body.Close()
		}
		before := e.emu.Stats()
		body := `{"paths":[` + fmt.Sprintf("%q", failed) + `]}`
		for _, tt := range []struct {
			name, path, ctype string
			hdr               map[string]string
		}{
			{"form post from another site", "/ui/api/retry", "application/x-www-form-urlencoded", map[string]string{"Origin": "http://evil.example"}},
			{"JSON from another origin", "/ui/api/retry", "application/json", map[string]string{"Origin": "http://evil.example"}},
			{"fetch metadata says cross-site", "/retry", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}},
			{"plain form post, no origin", "/ui/api/reprocess", "text/plain", nil},
			{"upload from another site", "/ui/api/upload?inbox=0&name=x.pdf", "application/pdf", map[string]string{"Origin": "http://evil.example", "X-PPSync-Request": "1"}},
		} {
			req, _ := http.NewRequest(http.MethodPost, base+tt.path, strings.NewReader(body))
			req.Header.Set("Content-Type", tt.ctype)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("%s: %d %s, want 403", tt.name, resp.StatusCode, msg)
			}
		}
		time.Sleep(500 * time.Millisecond) // a retry that got through would be sent by now (batch window 100 ms)
		if s := e.emu.Stats(); s.DocumentsCreated != before.DocumentsCreated {
			t.Error("a cross-site request made the daemon send a file")
		}
		if exists(filepath.Join(invoices, "x.pdf")) {
			t.Error("a cross-site upload landed")
		}
	})

	if *update {
		screenshots(t, ctx, base, good[1])
	}
}

// invoiceName is the name a scanner would give sample invoice n (pdf(t, n, ...)).
func invoiceName(n int) string {
	inv := samples.Generate(7, n, 1)
	return inv.Vendor + " " + inv.Number + ".pdf"
}

// screenshots regenerates docs/img/overview.png and docs/img/file.png:
//
//	go test ./internal/daemon -run TestWebPageAgainstTheDaemon -update
func screenshots(t *testing.T, ctx context.Context, base, file string) {
	out := filepath.Join("..", "..", "docs", "img")
	for _, s := range []struct{ name, url, wait string }{
		{"overview.png", "/", `[data-inbox] [data-count="done"]`},
		{"file.png", "/#/file?path=" + url.QueryEscape(file), `#data-card table`},
	} {
		var png []byte
		var height int64
		webtest.Run(t, ctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(base+s.url), chromedp.WaitVisible(s.wait),
			chromedp.Sleep(1200*time.Millisecond), // one refresh, so "updated" and the chart are current
			chromedp.Evaluate(`document.documentElement.scrollHeight`, &height))
		// The whole page in the window: the browser draws a PDF (the
		// file's original) only where it can be seen.
		webtest.Run(t, ctx, chromedp.EmulateViewport(1280, max(height, 1000)), chromedp.Sleep(3*time.Second), chromedp.CaptureScreenshot(&png))
		if err := os.WriteFile(filepath.Join(out, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", filepath.Join(out, s.name), len(png))
	}
}

// On an address other machines can reach, the endpoint (page and admin
// routes) answers nobody without authentication; the CLI's client sends the
// token and speaks TLS to the configured certificate.
func TestWebOffLoopbackNeedsAuthentication(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	token := filepath.Join(e.root, "admin-token")
	write(t, token, []byte("0123456789abcdef0123456789abcdef\n"))
	if err := os.Chmod(token, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := webtest.SelfSigned(t, e.root, "ppsync-server")
	p := port(t)
	cfg := e.webConfig("0.0.0.0:"+p, fmt.Sprintf("auth_token_file = %q\ntls_cert = %q\ntls_key = %q", token, certFile, keyFile), "inbox")
	write(t, filepath.Join(cfg.Inboxes[0].Path, "a.pdf"), pdf(t, 1, 1))
	stop := e.start(cfg)
	defer stop()
	e.waitFor("the result", 20*time.Second, func() bool { return exists(results.ResultPath(filepath.Join(cfg.Inboxes[0].Path, "a.pdf"))) })

	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfigSkippingVerify()}}
	base := "https://127.0.0.1:" + p
	for _, tt := range []struct {
		name, method, path, auth string
		want                     int
	}{
		{"page without credentials", http.MethodGet, "/", "", http.StatusUnauthorized},
		{"status without credentials", http.MethodGet, "/status", "", http.StatusUnauthorized},
		{"page data without credentials", http.MethodGet, "/ui/api/overview", "", http.StatusUnauthorized},
		{"retry without credentials", http.MethodPost, "/retry", "", http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/status", "Bearer 0123456789abcdef-wrong", http.StatusUnauthorized},
		{"the token", http.MethodGet, "/ui/api/overview", "Bearer 0123456789abcdef0123456789abcdef", http.StatusOK},
	} {
		req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(`{"failed":true}`))
		req.Header.Set("Content-Type", "application/json")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := insecure.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	if resp, err := http.Get("http://127.0.0.1:" + p + "/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered with the status although TLS is configured")
		}
	}
	// The CLI's client: token and TLS from the config.
	rep := status(t, cfg)
	if rep.Inboxes[0].Files[report.Done] != 1 {
		t.Errorf("status through the client: %+v", rep.Inboxes[0].Files)
	}
}

func tlsConfigSkippingVerify() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's self-signed certificate
}
