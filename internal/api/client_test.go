package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
)

const testKey = "pp_test_secret_key_123456"

// testWindow shrinks the API's one-minute rate window for tests, on the
// emulator and the client alike.
const testWindow = time.Second

func startEmulator(t *testing.T, o emulator.Options) (*emulator.Emulator, *httptest.Server) {
	t.Helper()
	if o.APIKeys == nil {
		o.APIKeys = []string{testKey}
	}
	if o.ProcessingTime == 0 {
		o.ProcessingTime = 5 * time.Millisecond
	}
	if o.RateWindow == 0 {
		o.RateWindow = testWindow
	}
	o.TempDir = t.TempDir()
	emu := emulator.New(o)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	return emu, srv
}

func newClient(t *testing.T, base string, o api.Options) *api.Client {
	t.Helper()
	o.BaseURL = base
	if o.APIKey == "" {
		o.APIKey = testKey
	}
	if o.RateWindow == 0 {
		o.RateWindow = testWindow
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = 20 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 200 * time.Millisecond
	}
	c, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func invoicePDF(t testing.TB, n, pages int) []byte {
	t.Helper()
	b, err := samples.Generate(1, n, pages).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func uploadOf(name string, b []byte) api.Upload {
	return api.Upload{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func TestNewRefusesClearTextToRemoteHosts(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://api.perfectparser.com", true},
		{"http://127.0.0.1:8787", true},
		{"http://localhost:8787", true},
		{"http://[::1]:8787", true},
		{"http://api.perfectparser.com", false},
		{"http://10.0.0.5:8787", false},
		{"ftp://example.com", false},
		{"not a url", false},
	} {
		_, err := api.New(api.Options{BaseURL: tc.url, APIKey: testKey})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
	if _, err := api.New(api.Options{BaseURL: "https://x"}); err == nil {
		t.Error("New without a key succeeded")
	}
}

func TestMeAndCredits(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{Credits: 77})
	c := newClient(t, srv.URL, api.Options{})
	me, err := c.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if me.CreditsAvailable != 77 || me.UserID == "" {
		t.Fatalf("me = %+v", me)
	}
	cr, err := c.Credits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cr.Available != 77 || len(cr.Purchases) == 0 {
		t.Fatalf("credits = %+v", cr)
	}
}

func TestWrongKeyIsUnauthorizedAndNeverPrinted(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	var logs bytes.Buffer
	wrong := "pp_live_this_key_is_wrong_987"
	c := newClient(t, srv.URL, api.Options{APIKey: wrong, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, err := c.Me(context.Background())
	if !api.IsUnauthorized(err) {
		t.Fatalf("err = %v, want unauthorized", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
		t.Fatalf("key leaked: err=%q logs=%q", err, logs.String())
	}
	if !strings.Contains(err.Error(), "api_key") {
		t.Errorf("error gives no hint about the key setting: %v", err)
	}
}

func TestSubmitPollResults(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	sub, err := c.Submit(ctx, "prs_invoice", "key-1", []api.Upload{
		uploadOf("a.pdf", invoicePDF(t, 1, 2)), uploadOf("b.pdf", invoicePDF(t, 2, 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	x := sub.Extraction
	if sub.Replayed || x.Status != "queued" || x.FileCount != 2 || x.PageCount != 3 || x.CreditsUsed != 3 ||
		x.CreditsRemaining == nil || *x.CreditsRemaining != 997 || len(x.Documents) != 2 {
		t.Fatalf("submission = %+v", x)
	}
	// Replay with the same key: same job, nothing charged.
	again, err := c.Submit(ctx, "prs_invoice", "key-1", []api.Upload{uploadOf("a.pdf", invoicePDF(t, 1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Extraction.ExtractionID != x.ExtractionID {
		t.Fatalf("replay = %+v", again)
	}
	st := emu.Stats()
	if st.PagesCharged != 3 || st.DocumentsCreated != 2 || st.IdempotentReplays != 1 || st.CreditsAvailable != 997 {
		t.Fatalf("stats after replay = %+v", st)
	}
	deadline := time.Now().Add(patience.Scale(10 * time.Second))
	for {
		got, err := c.Extraction(ctx, x.ExtractionID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := c.Results(ctx, x.ExtractionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 2 {
		t.Fatalf("results = %+v", res)
	}
	inv := samples.Generate(1, 1, 2)
	d := res.Documents[0]
	if !strings.Contains(string(d.ExtractedData), inv.Number) || !strings.Contains(string(d.ExtractedData), inv.Vendor) {
		t.Fatalf("extracted_data %s lacks %s / %s", d.ExtractedData, inv.Number, inv.Vendor)
	}
	doc, err := c.Document(ctx, x.ExtractionID, d.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.ExtractionID != x.ExtractionID || doc.FileType != "application/pdf" || doc.FileSize == 0 {
		t.Fatalf("document = %+v", doc)
	}
	var n int
	for e, err := range c.Extractions(ctx, api.ListOptions{Status: "completed", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.DocumentSummary == nil || e.DocumentSummary.Completed != 2 {
			t.Fatalf("list item = %+v", e)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("listed %d extractions, want 1", n)
	}
}

func TestSubmitErrors(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{Credits: 2})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	pdf := invoicePDF(t, 1, 1)
	for _, tc := range []struct {
		name   string
		parser string
		files  []api.Upload
		check  func(error) bool
		status int
		code   string
	}{
		{"unknown parser", "prs_nope", []api.Upload{uploadOf("a.pdf", pdf)}, api.IsParserNotFound, 404, "PARSER_NOT_FOUND"},
		{"unconfigured", "prs_unconfigured", []api.Upload{uploadOf("a.pdf", pdf)}, api.IsParserNotConfigured, 400, "PARSER_NOT_CONFIGURED"},
		{"not a pdf", "prs_invoice", []api.Upload{uploadOf("a.pdf", pdf), uploadOf("x.pdf", []byte("hello"))}, api.IsBadFile, 400, "UNSUPPORTED_FILE_TYPE"},
		{"broken pdf", "prs_invoice", []api.Upload{uploadOf("x.pdf", []byte("%PDF-1.4\ngarbage\n%%EOF\n"))}, api.IsBadFile, 400, "PAGE_COUNT_FAILED"},
		{"credits", "prs_invoice", []api.Upload{uploadOf("a.pdf", invoicePDF(t, 2, 3))}, api.IsInsufficientCredits, 402, "INSUFFICIENT_CREDITS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Submit(ctx, tc.parser, "", tc.files)
			var ae *api.Error
			if !errors.As(err, &ae) || !tc.check(err) || ae.StatusCode != tc.status || ae.Code != tc.code {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.code)
			}
		})
	}
	if st := emu.Stats(); st.PagesCharged != 0 || st.DocumentsCreated != 0 {
		t.Fatalf("a refused request charged: %+v", st)
	}
	many := make([]api.Upload, 51)
	for i := range many {
		many[i] = uploadOf("a.pdf", pdf)
	}
	if _, err := c.Submit(ctx, "prs_invoice", "", many); !errors.Is(err, api.ErrTooManyFiles) {
		t.Fatalf("51 files: %v", err)
	}
}

// A 200-file hammer from 30 goroutines over two windows never sees a 429.
func TestLimiterKeepsUnderServerLimits(t *testing.T) {
	window := 2 * time.Second
	emu, srv := startEmulator(t, emulator.Options{RateWindow: window})
	c := newClient(t, srv.URL, api.Options{RateWindow: window})
	ctx, cancel := context.WithTimeout(context.Background(), 2*window)
	defer cancel()
	pdf := invoicePDF(t, 1, 1)
	var wg sync.WaitGroup
	var calls, fails atomic.Int64
	for g := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var err error
				if g%10 == 0 {
					_, err = c.Submit(ctx, "prs_invoice", "", []api.Upload{uploadOf("a.pdf", pdf)})
				} else {
					_, err = c.Me(ctx)
				}
				if err != nil && ctx.Err() == nil {
					fails.Add(1)
					t.Errorf("call failed: %v", err)
				}
				if err == nil {
					calls.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	st := emu.Stats()
	if st.RateLimited != 0 {
		t.Fatalf("server saw %d rate-limited requests", st.RateLimited)
	}
	// Two windows allow at most 300 requests; the client should use most of them.
	if calls.Load() < 200 {
		t.Fatalf("only %d calls in two windows: pacing too slow", calls.Load())
	}
	_, _, throttled := c.Counter().Snapshot()
	if throttled != 0 || fails.Load() != 0 {
		t.Fatalf("client saw %d 429s, %d failures", throttled, fails.Load())
	}
}

// A forced 429 holds every caller until X-RateLimit-Reset.
func TestRateLimitedPausesUntilReset(t *testing.T) {
	var hits atomic.Int64
	resetSec := time.Now().Add(1100*time.Millisecond).Unix() + 1
	reset := time.Unix(resetSec, 0)
	var mu sync.Mutex
	var early []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set(apitypes.HeaderRateRemaining, "0")
			w.Header().Set(apitypes.HeaderRateReset, strconv.FormatInt(resetSec, 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"code":"RATE_LIMITED","message":"slow down"}}`)
			return
		}
		if d := time.Until(reset); d > 0 {
			mu.Lock()
			early = append(early, d)
			mu.Unlock()
		}
		_, _ = io.WriteString(w, `{"user":{"user_id":"u","credits_available":5}}`)
	}))
	defer srv.Close()
	// The reset is up to 2.1 s away: a 3 s window lets the client honour it.
	c := newClient(t, srv.URL, api.Options{RateWindow: 3 * time.Second})
	if _, err := c.Me(context.Background()); err != nil { // takes the 429, waits, succeeds
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Me(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if time.Now().Before(reset) {
		t.Fatal("calls returned before the reset time")
	}
	if len(early) > 0 {
		t.Fatalf("%d requests reached the server before the reset (%v early)", len(early), early)
	}
	if hits.Load() != 7 {
		t.Fatalf("server saw %d requests, want 7", hits.Load())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// With 20 % of requests failing with 500, every call still completes.
func TestFailRateStillCompletes(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{FailRate: 0.2, Seed: 7})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	pdf := invoicePDF(t, 1, 1)
	for i := range 40 {
		if _, err := c.Me(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i := range 10 {
		if _, err := c.Submit(ctx, "prs_invoice", "fail-rate-"+itoa(i+1), []api.Upload{uploadOf("a.pdf", pdf)}); err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	st := emu.Stats()
	if st.Responses["500"] == 0 {
		t.Fatal("no failure was injected")
	}
	if st.DocumentsCreated != 10 || st.PagesCharged != 10 {
		t.Fatalf("stats = %+v", st)
	}
}

// A submission whose answer is lost after the charge is retried with the
// same key and charged once.
func TestCutConnectionRetriedWithKeyChargesOnce(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{CutRate: 0.5, Seed: 3})
	c := newClient(t, srv.URL, api.Options{})
	pdf := invoicePDF(t, 1, 2)
	for i := range 8 {
		if _, err := c.Submit(context.Background(), "prs_invoice", "cut-"+itoa(i+1), []api.Upload{uploadOf("a.pdf", pdf)}); err != nil {
			t.Fatal(err)
		}
	}
	st := emu.Stats()
	if st.IdempotentReplays == 0 {
		t.Fatal("no connection was cut")
	}
	if st.DocumentsCreated != 8 || st.PagesCharged != 16 {
		t.Fatalf("charged twice: %+v", st)
	}
}

func TestSubmitWithoutKeyIsNotRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, api.Options{})
	_, err := c.Submit(context.Background(), "prs_invoice", "", []api.Upload{uploadOf("a.pdf", []byte("%PDF"))})
	if err == nil || hits.Load() != 1 {
		t.Fatalf("err=%v hits=%d, want one attempt", err, hits.Load())
	}
}

func TestHTMLErrorBodyIsClear(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>")
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, api.Options{MaxRetries: 1})
	_, err := c.Me(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *api.Error", err, err)
	}
	if ae.StatusCode != 502 || !strings.Contains(ae.Message, "502 Bad Gateway") || !strings.Contains(ae.Message, "text/html") {
		t.Fatalf("error = %+v", ae)
	}
	if !ae.Temporary() {
		t.Error("502 should be temporary")
	}
}

// A 404 page from a proxy in front of the API is not the API saying a job
// or document is gone: it is retried, and when it persists it is
// temporary, never IsNotFound. The API's own 404 is final at once.
func TestProxy404IsNotTheAPIsNotFound(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pages     int // HTML 404 pages before the API answers
		json404   bool
		wantErr   bool
		notFound  bool
		temporary bool
		calls     int
	}{
		{"a proxy's 404, then the API", 2, false, false, false, false, 3},
		{"a proxy's 404 that persists", 100, false, true, false, true, 4},
		{"the API's own 404", 0, true, true, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				switch {
				case calls <= tc.pages:
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(http.StatusNotFound)
					_, _ = io.WriteString(w, "<html><head><title>404 Not Found</title></head><body>nginx</body></html>")
				case tc.json404:
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = io.WriteString(w, `{"error":{"code":"RESOURCE_NOT_FOUND","message":"Extraction not found."}}`)
				default:
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"extraction_id":"ext_1","status":"completed","documents":[]}`)
				}
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, api.Options{MaxRetries: 3, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
			_, err := c.Results(context.Background(), "ext_1")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if calls != tc.calls {
				t.Errorf("%d requests, want %d", calls, tc.calls)
			}
			if err == nil {
				return
			}
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if api.IsNotFound(err) != tc.notFound || ae.Temporary() != tc.temporary {
				t.Errorf("IsNotFound %v, Temporary %v; want %v, %v (%v)", api.IsNotFound(err), ae.Temporary(), tc.notFound, tc.temporary, err)
			}
		})
	}
}

func TestErrorEnvelopeTolerance(t *testing.T) {
	for _, tc := range []struct {
		body, code, msg string
		status          int
	}{
		{`{"error":{"code":"INSUFFICIENT_CREDITS","message":"low"}}`, "INSUFFICIENT_CREDITS", "low", 402},
		{`{"code":"PARSER_NOT_FOUND","message":"nope"}`, "PARSER_NOT_FOUND", "nope", 404},
		{`{"error":"UNAUTHORIZED"}`, "UNAUTHORIZED", "", 401},
		{`{"error":"something broke","message":"m"}`, "HTTP_418", "something broke", 418},
		{``, "RESOURCE_NOT_FOUND", "", 404},
		{`not json at all`, "INVALID_PAYLOAD", "a non-JSON answer (text/plain): not json at all", 400},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		}))
		c := newClient(t, srv.URL, api.Options{})
		_, err := c.Me(context.Background())
		srv.Close()
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.Message != tc.msg || ae.StatusCode != tc.status {
			t.Errorf("body %q: got %+v", tc.body, ae)
		}
	}
}

func TestRedirectToOtherHostRefused(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(apitypes.HeaderAPIKey) != "" {
			leaked.Store(true)
		}
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/v1/me", http.StatusFound)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, api.Options{MaxRetries: 1})
	if _, err := c.Me(context.Background()); err == nil {
		t.Fatal("redirect to another host was followed")
	}
	if leaked.Load() {
		t.Fatal("API key sent to another host")
	}
}

// Changing a file after it was hashed aborts the upload: the server never
// receives a complete request, and nothing is charged.
func TestUploadAbortsWhenContentChanged(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, api.Options{})
	pdf := invoicePDF(t, 1, 1)
	up := uploadOf("a.pdf", pdf)
	up.SHA256 = strings.Repeat("0", 64)
	_, err := c.Submit(context.Background(), "prs_invoice", "k", []api.Upload{up})
	var fc *api.FileChangedError
	if !errors.As(err, &fc) {
		t.Fatalf("err = %v, want FileChangedError", err)
	}
	if st := emu.Stats(); st.DocumentsCreated != 0 {
		t.Fatalf("charged for a changed file: %+v", st)
	}
}

func TestWebhookCalls(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	got := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get(apitypes.HeaderSignature) + " " + string(b)
	}))
	defer recv.Close()
	wh, err := c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: recv.URL, Events: []string{apitypes.EventJobCompleted}, Secret: "static-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(wh.SigningSecret, "wh_sec_") || wh.WebhookID == "" {
		t.Fatalf("created = %+v", wh)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].SigningSecret != "" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	off := false
	up, err := c.UpdateWebhook(ctx, wh.WebhookID, apitypes.WebhookUpdate{IsActive: &off})
	if err != nil || up.IsActive {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if _, err := c.TestWebhook(ctx, wh.WebhookID); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		sig, body, _ := strings.Cut(s, " ")
		if sig != emulator.Sign(wh.SigningSecret, []byte(body)) || !strings.Contains(body, `"test":true`) {
			t.Fatalf("delivery sig=%s body=%s", sig, body)
		}
	case <-time.After(patience.Scale(5 * time.Second)):
		t.Fatal("test delivery never arrived")
	}
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for {
		g, err := c.Webhook(ctx, wh.WebhookID)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Deliveries) > 0 {
			if g.Deliveries[0].StatusCode != 200 {
				t.Fatalf("delivery recorded as %+v", g.Deliveries[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery recorded: %+v", g)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.DeleteWebhook(ctx, wh.WebhookID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Webhook(ctx, wh.WebhookID); !api.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
}
