package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
)

// diskUpload writes b to a file and uploads it from disk, as the uploader does.
func diskUpload(t *testing.T, name string, b []byte) api.Upload {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return api.Upload{Name: name, SHA256: hex.EncodeToString(sum[:]), Open: func() (io.ReadCloser, error) { return os.Open(p) }}
}

func names(docs []apitypes.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Filename)
	}
	slices.Sort(out)
	return out
}

// waitDone polls an extraction until it is terminal.
func waitDone(t *testing.T, c *api.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(patience.Scale(15 * time.Second))
	for {
		x, err := c.Extraction(context.Background(), id)
		if err == nil && (x.Status == apitypes.StatusCompleted || x.Status == apitypes.StatusPartial || x.Status == apitypes.StatusFailed) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("extraction %s not finished: %+v %v", id, x, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Under every quirk the client's whole cycle works: submit from disk (with
// Content-Length), poll, list, results, one document; each batch charged once.
func TestClientUnderEachQuirk(t *testing.T) {
	quirks := [][]emulator.Quirk{nil, emulator.AllQuirks()}
	for _, q := range emulator.AllQuirks() {
		quirks = append(quirks, []emulator.Quirk{q})
	}
	for _, qs := range quirks {
		name := fmt.Sprint(qs)
		t.Run(name, func(t *testing.T) {
			emu, srv := startEmulator(t, emulator.Options{Quirks: qs, Seed: 3})
			c := newClient(t, srv.URL, api.Options{})
			ctx := context.Background()
			var want []string
			var ups []api.Upload
			for i := range 6 {
				u := diskUpload(t, fmt.Sprintf("inv-%d.pdf", i), invoicePDF(t, i+1, 1))
				ups = append(ups, u)
				want = append(want, u.Name)
			}
			slices.Sort(want)
			sub, err := c.Submit(ctx, "prs_invoice", "key-"+name, ups)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if sub.Extraction.ExtractionID == "" || !slices.Equal(names(sub.Extraction.Documents), want) {
				t.Fatalf("submitted %+v", sub.Extraction)
			}
			id := sub.Extraction.ExtractionID
			waitDone(t, c, id)
			res, err := c.Results(ctx, id)
			if err != nil || !slices.Equal(names(res.Documents), want) {
				t.Fatalf("results %v: %+v", err, res)
			}
			for _, d := range res.Documents {
				if d.Status != apitypes.StatusCompleted || len(d.ExtractedData) == 0 {
					t.Errorf("document %+v", d)
				}
			}
			doc, err := c.Document(ctx, id, res.Documents[0].DocumentID)
			if err != nil || doc.Filename != res.Documents[0].Filename {
				t.Errorf("document: %+v %v", doc, err)
			}
			found := false
			for x, err := range c.Extractions(ctx, api.ListOptions{}) {
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				found = found || x.ExtractionID == id
			}
			if !found {
				t.Error("the extraction is not listed")
			}
			if _, err := c.Me(ctx); err != nil {
				t.Errorf("me: %v", err)
			}
			// The same batch again is not charged again.
			again, err := c.Submit(ctx, "prs_invoice", "key-"+name, ups)
			if err != nil || again.Extraction.ExtractionID != id || !again.Replayed {
				t.Errorf("replay: %+v %v", again, err)
			}
			if st := emu.Stats(); st.ExtractionsCreated != 1 || st.PagesCharged != 6 {
				t.Errorf("charged: %d jobs, %d pages; want 1 and 6", st.ExtractionsCreated, st.PagesCharged)
			}
		})
	}
}

// Uploads carry Content-Length computed before the first byte, and still
// stream: the server sees exactly that many bytes.
func TestUploadContentLength(t *testing.T) {
	type seen struct {
		length   int64
		read     int64
		chunked  bool
		hasFiles bool
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- seen{r.ContentLength, n, slices.Contains(r.TransferEncoding, "chunked"), true}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"extraction":{"extraction_id":"ext_1","documents":[]}}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, api.Options{})
	pdf := invoicePDF(t, 1, 2)
	sized := uploadOf("b.pdf", pdf)
	sized.Size = int64(len(pdf))
	for _, tc := range []struct {
		name    string
		files   []api.Upload
		chunked bool
	}{
		{"from disk", []api.Upload{diskUpload(t, "a.pdf", pdf), diskUpload(t, `we"ird name.pdf`, pdf)}, false},
		{"declared size", []api.Upload{sized}, false},
		{"unknown size", []api.Upload{uploadOf("c.pdf", pdf)}, true},
	} {
		if _, err := c.Submit(context.Background(), "prs_invoice", "", tc.files); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		s := <-got
		if s.chunked != tc.chunked {
			t.Errorf("%s: chunked=%v, want %v", tc.name, s.chunked, tc.chunked)
		}
		if !tc.chunked && (s.length <= 0 || s.length != s.read) {
			t.Errorf("%s: Content-Length %d, body %d bytes", tc.name, s.length, s.read)
		}
	}
}

// A file that grows or shrinks after its size was taken aborts the upload:
// nothing is charged and the caller learns which file changed.
func TestUploadAbortsWhenSizeChanges(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkNoChunked}})
	c := newClient(t, srv.URL, api.Options{})
	pdf := invoicePDF(t, 1, 1)
	for _, tc := range []struct {
		name  string
		size  int64
		hash  bool
		wantE any
	}{
		{"grew, hashed", int64(len(pdf)) - 10, true, &api.FileChangedError{}},
		{"shrank, hashed", int64(len(pdf)) + 10, true, &api.FileChangedError{}},
		{"grew, no hash", int64(len(pdf)) - 10, false, &api.SourceError{}},
	} {
		up := uploadOf("a.pdf", pdf)
		up.Size = tc.size
		if tc.hash {
			sum := sha256.Sum256(pdf)
			up.SHA256 = hex.EncodeToString(sum[:])
		}
		_, err := c.Submit(context.Background(), "prs_invoice", "k-"+tc.name, []api.Upload{up})
		var fc *api.FileChangedError
		var se *api.SourceError
		switch tc.wantE.(type) {
		case *api.FileChangedError:
			if !errors.As(err, &fc) || fc.Name != "a.pdf" {
				t.Errorf("%s: err = %v, want FileChangedError", tc.name, err)
			}
		case *api.SourceError:
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "size changed") {
				t.Errorf("%s: err = %v, want SourceError about the size", tc.name, err)
			}
		}
	}
	if st := emu.Stats(); st.DocumentsCreated != 0 {
		t.Fatalf("charged for changed files: %+v", st)
	}
}

// Each answer a proxy or the API can give a submission is classified for
// the uploader.
func TestSubmissionErrorClasses(t *testing.T) {
	ctx := context.Background()
	_, plain := startEmulator(t, emulator.Options{})
	_, strict := startEmulator(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkNoChunked, emulator.QuirkProxy413},
		ProxyMaxBody: 64 << 10})
	pdf := invoicePDF(t, 1, 1)
	big := append(bytes.Repeat([]byte("%pad\n"), 20<<10), pdf...)
	var tooMany []api.Upload
	for i := range 51 {
		tooMany = append(tooMany, uploadOf(fmt.Sprintf("%d.pdf", i), pdf))
	}
	type class struct{ requestLevel, tooLarge, badFile, retryable bool }
	for _, tc := range []struct {
		name   string
		base   string
		parser string
		files  []api.Upload
		status int
		want   class
		msg    string
	}{
		{"unknown parser", plain.URL, "prs_nope", []api.Upload{diskUpload(t, "a.pdf", pdf)}, 404, class{}, "PARSER_NOT_FOUND"},
		{"unconfigured parser", plain.URL, "prs_unconfigured", []api.Upload{diskUpload(t, "a.pdf", pdf)}, 400, class{}, "PARSER_NOT_CONFIGURED"},
		{"missing parser_id", plain.URL, "", []api.Upload{diskUpload(t, "a.pdf", pdf)}, 400, class{requestLevel: true, badFile: true}, "parser_id"},
		{"unsupported file", plain.URL, "prs_invoice", []api.Upload{diskUpload(t, "a.txt", []byte("hello"))}, 400, class{badFile: true}, "UNSUPPORTED_FILE_TYPE"},
		{"page count failed", plain.URL, "prs_invoice", []api.Upload{diskUpload(t, "a.pdf", []byte("%PDF-1.4\ngarbage\n%%EOF\n"))}, 400, class{badFile: true}, "PAGE_COUNT_FAILED"},
		{"proxy 413", strict.URL, "prs_invoice", []api.Upload{diskUpload(t, "big.pdf", big)}, 413, class{tooLarge: true}, "413 Request Entity Too Large"},
		{"proxy 411", strict.URL, "prs_invoice", []api.Upload{uploadOf("a.pdf", pdf)}, 411, class{}, "Content-Length"},
	} {
		c := newClient(t, tc.base, api.Options{})
		_, err := c.Submit(ctx, tc.parser, "", tc.files)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.StatusCode != tc.status {
			t.Errorf("%s: err = %v, want HTTP %d", tc.name, err, tc.status)
			continue
		}
		got := class{api.IsRequestLevel(err), api.IsTooLarge(err), api.IsBadFile(err), api.IsRetryable(err)}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v (%v)", tc.name, got, tc.want, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.msg)
		}
	}
	if _, err := newClient(t, plain.URL, api.Options{}).Submit(ctx, "prs_invoice", "", tooMany); !errors.Is(err, api.ErrTooManyFiles) {
		t.Errorf("51 files: %v", err)
	}
}

// A 429 gives a pause of about one window, whichever way the server says
// when the window resets.
func TestRateLimitPauseUnderQuirks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quirks []emulator.Quirk
	}{
		{"reset in seconds", nil},
		{"retry-after", []emulator.Quirk{emulator.QuirkRetryAfter}},
		{"reset-ms", []emulator.Quirk{emulator.QuirkResetMillis}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, srv := startEmulator(t, emulator.Options{Quirks: tc.quirks, RequestsPerWindow: 4})
			// The client believes in a far larger limit, so the server's 429 decides.
			c := newClient(t, srv.URL, api.Options{RequestsPerWindow: 10000})
			// Spend the window first with plain requests under the same key: the
			// client's first call then meets a 429 whatever its pacing learns.
			spent := spendWindow(t, srv.URL)
			start := time.Now()
			// At once, so most arrive before any answer can slow the client.
			errs := make(chan error, 10)
			for range 10 {
				go func() { _, err := c.Me(context.Background()); errs <- err }()
			}
			for range 10 {
				if err := <-errs; err != nil {
					t.Fatalf("call: %v", err)
				}
			}
			// Each of the 10 callers meets at most one 429 a window: 10 in the
			// spent window, then 6 and 2 while 4 a window get through.
			limited := emu.Stats().RateLimited - spent
			if limited == 0 || limited > 18 {
				t.Errorf("%d answers were 429, want a few (no storm)", limited)
			}
			// The spent window, then three more for 4 + 4 + 2 calls; a reset
			// in whole seconds may add up to a second to each pause.
			if d := time.Since(start); d > 4*testWindow+3*time.Second {
				t.Errorf("10 calls over 4-per-window limits took %s, want about 4 windows", d)
			}
		})
	}
}

func TestIsRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 402: false, 408: true, 411: false, 413: false, 425: true,
		429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 505: false, 599: true} {
		if got := api.IsRetryableStatus(status); got != want {
			t.Errorf("IsRetryableStatus(%d) = %v", status, got)
		}
	}
}

// A 402 cached under the Idempotency-Key (cache-errors) is still a 402
// after the top-up: only a new key gets the batch through.
func TestCachedErrorNeedsNewKey(t *testing.T) {
	emu, srv := startEmulator(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkCacheErrors}, Credits: emulator.NoCredits})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	up := []api.Upload{diskUpload(t, "a.pdf", invoicePDF(t, 1, 1))}
	if _, err := c.Submit(ctx, "prs_invoice", "gen-0", up); !api.IsInsufficientCredits(err) {
		t.Fatalf("before top-up: %v", err)
	}
	emu.SetCredits(10)
	if _, err := c.Submit(ctx, "prs_invoice", "gen-0", up); !api.IsInsufficientCredits(err) {
		t.Fatalf("same key after top-up: %v, want the cached 402", err)
	}
	if s, err := c.Submit(ctx, "prs_invoice", "gen-1", up); err != nil || s.Extraction.ExtractionID == "" {
		t.Fatalf("new key: %+v %v", s, err)
	}
}

func TestWebhookTestAcceptsEmptyAnswer(t *testing.T) {
	for _, qs := range [][]emulator.Quirk{nil, {emulator.QuirkEmptyTest}} {
		_, srv := startEmulator(t, emulator.Options{Quirks: qs})
		recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		c := newClient(t, srv.URL, api.Options{})
		ctx := context.Background()
		wh, err := c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: recv.URL, Events: []string{apitypes.EventJobCompleted}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.TestWebhook(ctx, wh.WebhookID)
		if err != nil || (len(qs) == 0) != (len(out) > 0) {
			t.Errorf("quirks %v: test webhook = %q, %v", qs, out, err)
		}
		recv.Close()
	}
}

// Webhook calls with a JSON body carry Content-Length: a gateway that
// refuses chunked bodies (411) accepts the registration and its update.
func TestWebhookBodiesCarryContentLength(t *testing.T) {
	_, srv := startEmulator(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkNoChunked}})
	c := newClient(t, srv.URL, api.Options{})
	ctx := context.Background()
	wh, err := c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: "http://127.0.0.1:9/hooks", Events: []string{apitypes.EventJobCompleted}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	off := false
	if _, err := c.UpdateWebhook(ctx, wh.WebhookID, apitypes.WebhookUpdate{IsActive: &off}); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// spendWindow sends plain requests under the test key until the server
// answers 429, and returns how many 429s it caused (one).
func spendWindow(t *testing.T, base string) int {
	t.Helper()
	for range 100 {
		req, err := http.NewRequest(http.MethodGet, base+"/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(apitypes.HeaderAPIKey, testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return 1
		}
	}
	t.Fatal("the emulator never answered 429")
	return 0
}

// A submission refused because the request bucket is spent (its headers
// describe the submission bucket, which still has room) holds every call,
// not only submissions: a GET sent right after it waits for the reset too.
func TestSubmission429FromTheRequestBucketHoldsEveryCall(t *testing.T) {
	// The emulator's clock stands still from the spent window until the
	// client takes in its 429, so a busy machine cannot let the window
	// reset in between; then it runs on with the wall clock, which the
	// client's pause is measured on.
	var held atomic.Pointer[time.Time]
	t0 := time.Now()
	held.Store(&t0)
	now := func() time.Time {
		if h := held.Load(); h != nil {
			return *h
		}
		return time.Now()
	}
	emu, srv := startEmulator(t, emulator.Options{RequestsPerWindow: 5, Now: now})
	paused := &pauseLog{seen: make(chan string, 4), onPause: func() { held.Store(nil) }}
	c := newClient(t, srv.URL, api.Options{Logger: slog.New(paused)})
	spent := spendWindow(t, srv.URL)
	done := make(chan error, 1)
	go func() {
		_, err := c.Submit(context.Background(), "prs_invoice", "key-bucket", []api.Upload{diskUpload(t, "a.pdf", invoicePDF(t, 1, 1))})
		done <- err
	}()
	// The client has taken in the submission's 429 once it logs its pause.
	select {
	case msg := <-paused.seen:
		if !strings.Contains(msg, "pausing all requests") {
			t.Fatalf("after a 429 from the request bucket the client logged %q, want a pause of all requests", msg)
		}
	case err := <-done:
		t.Fatalf("the submission ended without meeting its 429: %v", err)
	}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := emu.Stats().RateLimited - spent; got != 1 {
		t.Fatalf("%d answers were 429 after the window was spent, want 1 (the submission's): the GET did not wait", got)
	}
}

// pauseLog passes on the client's "API rate limit reached" messages.
type pauseLog struct {
	seen chan string
	// onPause, when set, runs as the client takes in a 429, before any
	// caller can retry.
	onPause func()
}

func (p *pauseLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *pauseLog) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "API rate limit reached") {
		if p.onPause != nil {
			p.onPause()
		}
		select {
		case p.seen <- r.Message:
		default:
		}
	}
	return nil
}
func (p *pauseLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *pauseLog) WithGroup(string) slog.Handler      { return p }
