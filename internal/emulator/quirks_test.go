package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
)

func TestParseQuirks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []emulator.Quirk
		err  string
	}{
		{in: "", want: nil},
		{in: "shuffle", want: []emulator.Quirk{emulator.QuirkShuffle}},
		{in: " Status-200 ,shuffle,shuffle", want: []emulator.Quirk{emulator.QuirkShuffle, emulator.QuirkStatus200}},
		{in: "all", want: emulator.AllQuirks()},
		{in: "shuffle,all", want: emulator.AllQuirks()},
		{in: "shuffle,sideways", err: `unknown quirk "sideways": use all or any of shuffle, extra-fields`},
	} {
		got, err := emulator.ParseQuirks(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "proxy-404") {
				t.Errorf("ParseQuirks(%q) error = %v, want one containing %q and every quirk", tc.in, err, tc.err)
			}
			continue
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseQuirks(%q) = %v, %v; want %v", tc.in, got, err, want)
		}
	}
	if len(emulator.AllQuirks()) != 13 {
		t.Errorf("AllQuirks = %v", emulator.AllQuirks())
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `unknown quirk "sideways"`) {
			t.Errorf("New with an unknown quirk: panic %v", r)
		}
	}()
	emulator.New(emulator.Options{Quirks: []emulator.Quirk{"sideways"}})
}

func filenames(docs any) []string {
	var out []string
	list, _ := docs.([]any)
	for _, d := range list {
		m, _ := d.(map[string]any)
		s, _ := m["filename"].(string)
		out = append(out, s)
	}
	return out
}

func TestQuirkShuffle(t *testing.T) {
	var files []file
	var names []string
	for i := range 8 {
		f := invoice(t, i+1, 1)
		files = append(files, f)
		names = append(names, f.name)
	}
	for _, tc := range []struct {
		name    string
		quirks  []emulator.Quirk
		shuffle bool
	}{
		{"default keeps upload order", nil, false},
		{"shuffle", []emulator.Quirk{emulator.QuirkShuffle}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Quirks: tc.quirks, Seed: 7})
			a := h.submit("prs_invoice", nil, files...)
			if a.status != 202 {
				t.Fatalf("submit: %d %s", a.status, a.raw)
			}
			id := a.obj("extraction")["extraction_id"].(string)
			h.waitStatus(id, "completed")
			answers := map[string][]string{
				"submit":  filenames(a.obj("extraction")["documents"]),
				"status":  filenames(h.get("/v1/extractions/" + id).obj("extraction")["documents"]),
				"results": filenames(h.get("/v1/extractions/" + id + "/results").obj("extraction")["documents"]),
			}
			for what, got := range answers {
				if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, names) {
					t.Errorf("%s documents = %v, want the names %v", what, got, names)
				}
				if reordered := !slices.Equal(got, names); reordered != tc.shuffle {
					t.Errorf("%s documents in order %v: reordered=%v, want %v", what, got, reordered, tc.shuffle)
				}
			}
		})
	}
}

func TestQuirkExtraFields(t *testing.T) {
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkExtraFields}})
	a := h.submit("prs_invoice", nil, invoice(t, 1, 1))
	if a.status != 202 {
		t.Fatalf("submit: %d %s", a.status, a.raw)
	}
	id := a.obj("extraction")["extraction_id"].(string)
	h.waitStatus(id, "completed")
	r := h.get("/v1/extractions/" + id + "/results")
	doc := r.obj("extraction")["documents"].([]any)[0].(map[string]any)
	for what, m := range map[string]map[string]any{
		"envelope": a.body, "extraction": a.obj("extraction"), "document": doc, "user": h.get("/v1/me").obj("user"),
		"error": h.get("/v1/extractions/ext_missing").obj("error"),
	} {
		if _, ok := m["x_request_trace"]; !ok {
			t.Errorf("%s has no unknown field: %v", what, keys(m))
		}
	}
	data, _ := doc["extracted_data"].(map[string]any)
	if _, ok := data["x_request_trace"]; ok || len(data) == 0 {
		t.Errorf("extracted_data was changed: %v", data)
	}
	if code := h.get("/v1/extractions/ext_missing").code(); code != "RESOURCE_NOT_FOUND" {
		t.Errorf("error code under extra-fields = %q", code)
	}
}

// about10PercentFromTheProxy asks 300 times and checks that about one
// answer in ten is a proxy's HTML page with one of statuses (its title
// naming the status), the others the API's.
func about10PercentFromTheProxy(t *testing.T, h *harness, statuses ...int) {
	t.Helper()
	proxied := 0
	for range 300 {
		a := h.get("/v1/me")
		switch {
		case a.status == 200:
		case slices.Contains(statuses, a.status):
			proxied++
			title := fmt.Sprintf("<title>%d %s</title>", a.status, http.StatusText(a.status))
			if !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.raw, []byte(title)) {
				t.Fatalf("proxy answer %d is not an HTML page titled %q: %s %s", a.status, title, a.header.Get("Content-Type"), a.raw)
			}
		default:
			t.Fatalf("answer %d %s", a.status, a.raw)
		}
	}
	if proxied < 10 || proxied > 60 {
		t.Errorf("%d of 300 answers came from the proxy, want about 10%%", proxied)
	}
}

func TestQuirkProxy5xx(t *testing.T) {
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkProxy5xx}, Seed: 11,
		RequestsPerWindow: 100000, SubmissionsPerWindow: 100000})
	about10PercentFromTheProxy(t, h, 502, 504)
	// A submission's 504 may come after the job was charged; the same
	// Idempotency-Key then finds the job.
	inv := invoice(t, 1, 1)
	for i := 0; ; i++ {
		if i == 500 {
			t.Fatal("no submission was charged behind a 504 in 500 tries")
		}
		before := h.emu.Stats().ExtractionsCreated
		k := []string{apitypes.HeaderIdempotencyKey, "proxy-" + strconv.Itoa(i)}
		a := h.submit("prs_invoice", k, inv)
		if a.status != 504 || h.emu.Stats().ExtractionsCreated != before+1 {
			continue
		}
		for {
			r := h.submit("prs_invoice", k, inv)
			if r.status >= 500 {
				continue
			}
			if r.status != 202 || r.header.Get(apitypes.HeaderIdempotentReplayed) != "true" {
				t.Fatalf("retry after a charged 504: %d %v %s", r.status, r.header, r.raw)
			}
			break
		}
		if got := h.emu.Stats().ExtractionsCreated; got != before+1 {
			t.Fatalf("the retry created another job: %d jobs, want %d", got, before+1)
		}
		break
	}
	if h.emu.Injected().ProxyErrors == 0 {
		t.Error("Injected().ProxyErrors not counted")
	}
}

// proxy-404: about one request in ten gets a proxy's HTML 404 page before
// it reaches the API, so nothing is done or charged behind it.
func TestQuirkProxy404(t *testing.T) {
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkProxy404}, Seed: 5,
		RequestsPerWindow: 100000, SubmissionsPerWindow: 100000})
	about10PercentFromTheProxy(t, h, 404)
	inv := invoice(t, 1, 1)
	for i := range 100 {
		before := h.emu.Stats().ExtractionsCreated
		a := h.submit("prs_invoice", []string{apitypes.HeaderIdempotencyKey, "p404-" + strconv.Itoa(i)}, inv)
		if a.status == 404 && h.emu.Stats().ExtractionsCreated != before {
			t.Fatal("a submission answered by the proxy's 404 was charged")
		}
	}
	if h.emu.Injected().ProxyErrors == 0 {
		t.Error("Injected().ProxyErrors not counted")
	}
}

func TestQuirkCacheErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quirks []emulator.Quirk
		after  int // status of the same key after the top-up
	}{
		{"default forgets errors", nil, 202},
		{"cache-errors replays the 402", []emulator.Quirk{emulator.QuirkCacheErrors}, 402},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Quirks: tc.quirks, Credits: emulator.NoCredits})
			inv := invoice(t, 1, 1)
			k := []string{apitypes.HeaderIdempotencyKey, "batch-1"}
			wantError(t, "before top-up", h.submit("prs_invoice", k, inv), 402, "INSUFFICIENT_CREDITS")
			h.emu.SetCredits(100)
			a := h.submit("prs_invoice", k, inv)
			if a.status != tc.after {
				t.Fatalf("same key after top-up: %d %s, want %d", a.status, a.raw, tc.after)
			}
			if tc.after == 402 {
				if a.header.Get(apitypes.HeaderIdempotentReplayed) != "true" || a.code() != "INSUFFICIENT_CREDITS" {
					t.Errorf("cached error: %v %s", a.header, a.raw)
				}
				if n := h.submit("prs_invoice", []string{apitypes.HeaderIdempotencyKey, "batch-1.1"}, inv); n.status != 202 {
					t.Errorf("new key after top-up: %d %s", n.status, n.raw)
				}
			}
			if got := h.emu.Stats().ExtractionsCreated; got != 1 {
				t.Errorf("%d jobs created, want 1", got)
			}
		})
	}
}

func TestQuirkRateLimitHeaders(t *testing.T) {
	window := 10 * time.Second
	for _, tc := range []struct {
		name   string
		quirks []emulator.Quirk
		check  func(t *testing.T, ok, limited answer)
	}{
		{"default: reset in seconds", nil, func(t *testing.T, ok, limited answer) {
			for _, a := range []answer{ok, limited} {
				if r, err := strconv.ParseInt(a.header.Get(apitypes.HeaderRateReset), 10, 64); err != nil || r < time.Now().Unix() || r > time.Now().Add(window).Unix()+1 {
					t.Errorf("X-RateLimit-Reset %q is not the window end in seconds", a.header.Get(apitypes.HeaderRateReset))
				}
			}
			if limited.header.Get("Retry-After") != "" {
				t.Error("Retry-After sent by default")
			}
		}},
		{"retry-after", []emulator.Quirk{emulator.QuirkRetryAfter}, func(t *testing.T, ok, limited answer) {
			if ra, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || ra < 1 || ra > int(window/time.Second) {
				t.Errorf("Retry-After = %q, want 1..%d seconds", limited.header.Get("Retry-After"), int(window/time.Second))
			}
			if v := limited.header.Get(apitypes.HeaderRateReset); v != "" {
				t.Errorf("429 carries X-RateLimit-Reset %q", v)
			}
			if ok.header.Get(apitypes.HeaderRateReset) == "" {
				t.Error("a 200 lost X-RateLimit-Reset")
			}
		}},
		{"reset-ms", []emulator.Quirk{emulator.QuirkResetMillis}, func(t *testing.T, ok, limited answer) {
			for _, a := range []answer{ok, limited} {
				r, err := strconv.ParseInt(a.header.Get(apitypes.HeaderRateReset), 10, 64)
				now := time.Now().UnixMilli()
				if err != nil || r < now || r > now+window.Milliseconds() {
					t.Errorf("X-RateLimit-Reset %q is not the window end in milliseconds (now %d)", a.header.Get(apitypes.HeaderRateReset), now)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Quirks: tc.quirks, RateWindow: window, RequestsPerWindow: 2})
			var ok, limited answer
			for i := 0; i < 20 && limited.status == 0; i++ {
				a := h.get("/v1/me")
				switch a.status {
				case 200:
					ok = a
				case 429:
					limited = a
				default:
					t.Fatalf("answer %d %s", a.status, a.raw)
				}
			}
			if ok.status != 200 || limited.status != 429 {
				t.Fatalf("never saw a 200 and a 429")
			}
			tc.check(t, ok, limited)
		})
	}
}

// chunked hides the body's length, so it is sent chunked.
func chunked(r io.Reader) io.Reader { return io.MultiReader(r) }

func TestQuirkNoChunked(t *testing.T) {
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkNoChunked}})
	body, ct := form(t, map[string]string{"parser_id": "prs_invoice"}, "files", invoice(t, 1, 1))
	raw, _ := io.ReadAll(body)
	a := h.do("POST", "/v1/extractions", chunked(bytes.NewReader(raw)), ct)
	if a.status != 411 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Errorf("chunked submission: %d %s %s", a.status, a.header.Get("Content-Type"), a.raw)
	}
	if s := h.emu.Stats(); s.ExtractionsCreated != 0 {
		t.Errorf("a refused request created %d jobs", s.ExtractionsCreated)
	}
	if a := h.do("POST", "/v1/extractions", bytes.NewReader(raw), ct); a.status != 202 {
		t.Errorf("submission with Content-Length: %d %s", a.status, a.raw)
	}
	if a := h.get("/v1/me"); a.status != 200 {
		t.Errorf("GET without a body: %d", a.status)
	}
}

func TestQuirkProxy413(t *testing.T) {
	const limit = 64 << 10
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkProxy413}, ProxyMaxBody: limit})
	big := invoice(t, 1, 1)
	big.data = append(bytes.Repeat([]byte("%pad\n"), limit/5), big.data...)
	body, ct := form(t, map[string]string{"parser_id": "prs_invoice"}, "files", big)
	raw, _ := io.ReadAll(body)
	for name, r := range map[string]io.Reader{"with length": bytes.NewReader(raw), "chunked": chunked(bytes.NewReader(raw))} {
		a := h.do("POST", "/v1/extractions", r, ct)
		if a.status != 413 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.raw, []byte("413")) {
			t.Errorf("%s: over the limit: %d %s %s", name, a.status, a.header.Get("Content-Type"), a.raw)
		}
	}
	small, ct := form(t, map[string]string{"parser_id": "prs_invoice"}, "files", invoice(t, 2, 1))
	smallRaw, _ := io.ReadAll(small)
	for name, r := range map[string]io.Reader{"with length": bytes.NewReader(smallRaw), "chunked": chunked(bytes.NewReader(smallRaw))} {
		if a := h.do("POST", "/v1/extractions", r, ct); a.status != 202 {
			t.Errorf("%s: under the limit: %d %s", name, a.status, a.raw)
		}
	}
	if s := h.emu.Stats(); s.ExtractionsCreated != 2 {
		t.Errorf("%d jobs, want 2", s.ExtractionsCreated)
	}
}

func TestQuirkStatus200(t *testing.T) {
	h := newHarness(t, emulator.Options{Quirks: []emulator.Quirk{emulator.QuirkStatus200}})
	k := []string{apitypes.HeaderIdempotencyKey, "k1"}
	a := h.submit("prs_invoice", k, invoice(t, 1, 1))
	r := h.submit("prs_invoice", k, invoice(t, 1, 1))
	if a.status != 200 || a.obj("extraction")["extraction_id"] == nil {
		t.Errorf("submit: %d %s", a.status, a.raw)
	}
	if r.status != 200 || r.header.Get(apitypes.HeaderIdempotentReplayed) != "true" || !bytes.Equal(a.raw, r.raw) {
		t.Errorf("replay: %d %v %s", r.status, r.header, r.raw)
	}
}

func TestQuirkWebhookShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quirks []emulator.Quirk
		nested bool
		test   int
	}{
		{"default", nil, false, 200},
		{"nested-webhook", []emulator.Quirk{emulator.QuirkNestedWebhook}, true, 200},
		{"empty-test", []emulator.Quirk{emulator.QuirkEmptyTest}, false, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Quirks: tc.quirks})
			bodies := make(chan []byte, 16)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies <- b
			}))
			defer recv.Close()
			c := h.postJSON("POST", "/v1/webhooks", `{"url":"`+recv.URL+`","events":["extraction.document_completed"]}`)
			id, _ := c.obj("webhook")["webhook_id"].(string)
			wantError(t, "patch secret", h.postJSON("PATCH", "/v1/webhooks/"+id, `{"secret":"another-secret"}`), 400, "INVALID_PAYLOAD")
			tr := h.do("POST", "/v1/webhooks/"+id+"/test", nil, "")
			if tr.status != tc.test || tc.test == 204 && len(tr.raw) != 0 {
				t.Errorf("test: %d %q, want %d", tr.status, tr.raw, tc.test)
			}
			a := h.submit("prs_invoice", nil, invoice(t, 1, 1))
			ext := a.obj("extraction")["extraction_id"].(string)
			for _, want := range []string{"ext_test", ext} {
				var b []byte
				select {
				case b = <-bodies:
				case <-time.After(patience.Scale(10 * time.Second)):
					t.Fatalf("no delivery for %s", want)
				}
				var p map[string]any
				if err := json.Unmarshal(b, &p); err != nil {
					t.Fatalf("payload %s: %v", b, err)
				}
				ids := p
				if tc.nested {
					if _, top := p["extraction_id"]; top {
						t.Errorf("nested payload has a top-level extraction_id: %s", b)
					}
					ids, _ = p["data"].(map[string]any)
				}
				if ids["extraction_id"] != want || p["event_id"] == nil || p["event"] == nil {
					t.Errorf("payload %s, want extraction %s", b, want)
				}
				if want == ext && ids["document_id"] == nil {
					t.Errorf("document event without document_id: %s", b)
				}
			}
		})
	}
}

// A file name with a control character: refused by default, naming the
// file escaped (the raw name is not in the message); echoed with U+FFFD
// under mangle-names. File contents with control bytes are untouched.
func TestControlCharactersInNames(t *testing.T) {
	for _, tc := range []struct {
		quirks []emulator.Quirk
		name   string
		status int
		echo   string
	}{
		{nil, "a\x01b.pdf", 400, ""},
		{nil, "tab\there.pdf", 400, ""},
		{nil, "plain name.pdf", 202, "plain name.pdf"},
		{[]emulator.Quirk{emulator.QuirkMangleNames}, "a\x01b.pdf", 202, "a\uFFFDb.pdf"},
		{[]emulator.Quirk{emulator.QuirkMangleNames}, "x\x7f\x1f.pdf", 202, "x\uFFFD\uFFFD.pdf"},
	} {
		t.Run(fmt.Sprintf("%v %q", tc.quirks, tc.name), func(t *testing.T) {
			h := newHarness(t, emulator.Options{Quirks: tc.quirks})
			good := invoice(t, 1, 1)
			odd := invoice(t, 2, 2)
			odd.name = tc.name
			a := h.submit("prs_invoice", nil, good, odd)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if tc.status == 400 {
				msg, _ := a.body["error"].(map[string]any)["message"].(string)
				if a.code() != apitypes.CodeInvalidPayload || !strings.Contains(msg, strconv.QuoteToASCII(tc.name)) || strings.Contains(msg, tc.name) {
					t.Errorf("refusal %s: %q", a.code(), msg)
				}
				if st := h.emu.Stats(); st.PagesCharged != 0 {
					t.Errorf("a refused submission charged %d pages", st.PagesCharged)
				}
				return
			}
			names := filenames(a.obj("extraction")["documents"])
			if len(names) != 2 || names[0] != good.name || names[1] != tc.echo {
				t.Errorf("echoed names %q, want %q and %q", names, good.name, tc.echo)
			}
			if pages := a.obj("extraction")["page_count"]; pages != 3.0 {
				t.Errorf("page_count %v, want 3 (the contents were read intact)", pages)
			}
		})
	}
}
