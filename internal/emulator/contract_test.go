package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
)

const key = "pp_test_contract"

type harness struct {
	t   *testing.T
	emu *emulator.Emulator
	srv *httptest.Server
}

func newHarness(t *testing.T, o emulator.Options) *harness {
	t.Helper()
	o.APIKeys = []string{key}
	if o.ProcessingTime == 0 {
		o.ProcessingTime = 2 * time.Millisecond
	}
	if o.RateWindow == 0 {
		o.RateWindow = time.Second
	}
	o.TempDir = t.TempDir()
	emu := emulator.New(o)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return &harness{t: t, emu: emu, srv: srv}
}

type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) obj(k string) map[string]any {
	m, _ := a.body[k].(map[string]any)
	return m
}

func (h *harness) do(method, path string, body io.Reader, ctype string, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(apitypes.HeaderAPIKey, key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (h *harness) get(path string) answer { return h.do("GET", path, nil, "") }

func (h *harness) postJSON(method, path, body string) answer {
	return h.do(method, path, strings.NewReader(body), "application/json")
}

type file struct {
	name string
	data []byte
}

func form(t *testing.T, fields map[string]string, fileField string, files ...file) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile(fileField, f.name)
		_, _ = w.Write(f.data)
	}
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

func (h *harness) submit(parser string, hdr []string, files ...file) answer {
	h.t.Helper()
	fields := map[string]string{}
	if parser != "" {
		fields["parser_id"] = parser
	}
	body, ct := form(h.t, fields, "files", files...)
	return h.do("POST", "/v1/extractions", body, ct, hdr...)
}

func invoice(t testing.TB, n, pages int, extra ...string) file {
	t.Helper()
	inv := samples.Generate(42, n, pages)
	inv.Extra = extra
	b, err := inv.PDF()
	if err != nil {
		t.Fatal(err)
	}
	return file{name: fmt.Sprintf("invoice-%d.pdf", n), data: b}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

func wantError(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.code() != code {
		t.Errorf("%s: HTTP %d %s (%s), want %d %s", what, a.status, a.code(), a.raw, status, code)
	}
	if a.code() != "" {
		wantKeys(t, what+" error", a.obj("error"), "code", "message")
	}
}

func (h *harness) waitStatus(id string, want ...string) answer {
	h.t.Helper()
	deadline := time.Now().Add(patience.Scale(10 * time.Second))
	for {
		a := h.get("/v1/extractions/" + id)
		if s, _ := a.obj("extraction")["status"].(string); slices.Contains(want, s) {
			return a
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("extraction %s never reached %v: %s", id, want, a.raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEveryEndpointNeedsTheKey(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	for _, route := range []string{
		"GET /v1/me", "GET /v1/credits", "GET /v1/parsers", "POST /v1/parsers", "GET /v1/parsers/prs_invoice",
		"PATCH /v1/parsers/prs_invoice", "POST /v1/parsers/prs_invoice/detect-fields", "POST /v1/extractions",
		"GET /v1/extractions", "GET /v1/extractions/ext_1", "GET /v1/extractions/ext_1/results",
		"GET /v1/extractions/ext_1/export", "GET /v1/extractions/ext_1/documents/doc_1",
		"GET /v1/extractions/ext_1/documents/doc_1/export", "GET /v1/webhooks", "POST /v1/webhooks",
		"GET /v1/webhooks/wh_1", "PATCH /v1/webhooks/wh_1", "DELETE /v1/webhooks/wh_1", "POST /v1/webhooks/wh_1/test",
		"GET /_emulator/stats",
	} {
		m, p, _ := strings.Cut(route, " ")
		for _, k := range []string{"", "pp_live_wrong"} {
			a := h.do(m, p, nil, "", apitypes.HeaderAPIKey, k)
			wantError(t, route, a, 401, "UNAUTHORIZED")
		}
	}
}

func TestAccount(t *testing.T) {
	h := newHarness(t, emulator.Options{Credits: 847})
	me := h.get("/v1/me")
	if me.status != 200 {
		t.Fatalf("me: %d %s", me.status, me.raw)
	}
	wantKeys(t, "user", me.obj("user"), "user_id", "email", "name", "credits_available", "key_name", "key_expires_at", "member_since")
	if me.obj("user")["credits_available"] != 847.0 {
		t.Errorf("credits_available = %v", me.obj("user")["credits_available"])
	}
	if strings.Contains(string(me.raw), key) {
		t.Error("GET /v1/me echoes the whole API key")
	}
	cr := h.get("/v1/credits")
	wantKeys(t, "credits", cr.obj("credits"), "available", "purchases")
	ps, _ := cr.obj("credits")["purchases"].([]any)
	if len(ps) != 1 {
		t.Fatalf("purchases = %v", ps)
	}
	wantKeys(t, "purchase", ps[0].(map[string]any), "purchase_id", "plan", "credits", "remaining", "expires_at", "purchased_at")
	// Rate-limit headers on every answer; Reset is absolute Unix seconds.
	for _, a := range []answer{me, cr} {
		reset, err := strconv.ParseInt(a.header.Get(apitypes.HeaderRateReset), 10, 64)
		if a.header.Get(apitypes.HeaderRateLimit) != "150" || a.header.Get(apitypes.HeaderRateRemaining) == "" || err != nil ||
			reset < time.Now().Unix() || reset > time.Now().Add(time.Minute).Unix() {
			t.Errorf("rate headers = %v", a.header)
		}
	}
}

func TestSubmissionLifecycle(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.submit("prs_invoice", []string{apitypes.HeaderIdempotencyKey, "batch-1"}, invoice(t, 1, 3), invoice(t, 2, 4))
	if a.status != 202 {
		t.Fatalf("submit: %d %s", a.status, a.raw)
	}
	x := a.obj("extraction")
	wantKeys(t, "submitted extraction", x, "extraction_id", "parser_id", "status", "file_count", "page_count",
		"credits_used", "credits_remaining", "documents")
	if x["page_count"] != 7.0 || x["credits_used"] != 7.0 || x["credits_remaining"] != 993.0 || x["status"] != "queued" {
		t.Errorf("extraction = %v", x)
	}
	docs := x["documents"].([]any)
	wantKeys(t, "submitted document", docs[0].(map[string]any), "document_id", "filename", "page_count", "credits_used", "status")
	id := x["extraction_id"].(string)
	docID := docs[0].(map[string]any)["document_id"].(string)

	// Replay: same body, header, no charge; different content under the same key still replays.
	r := h.submit("prs_invoice", []string{apitypes.HeaderIdempotencyKey, "batch-1"}, invoice(t, 9, 1))
	if r.status != 202 || r.header.Get(apitypes.HeaderIdempotentReplayed) != "true" || !bytes.Equal(r.raw, a.raw) {
		t.Errorf("replay: %d %v %s", r.status, r.header, r.raw)
	}

	st := h.waitStatus(id, "completed")
	sx := st.obj("extraction")
	wantKeys(t, "status extraction", sx, "extraction_id", "parser_id", "parser_name", "status", "file_count", "page_count",
		"credits_used", "created_at", "updated_at", "completed_at", "documents")
	sd := sx["documents"].([]any)[0].(map[string]any)
	wantKeys(t, "status document", sd, "document_id", "filename", "status", "page_count", "credits_used", "error_message",
		"created_at", "updated_at")
	ts := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
	for _, k := range []string{"created_at", "updated_at", "completed_at"} {
		if s, _ := sx[k].(string); !ts.MatchString(s) {
			t.Errorf("%s = %q, want ISO 8601 with millis", k, s)
		}
	}

	res := h.get("/v1/extractions/" + id + "/results")
	rx := res.obj("extraction")
	wantKeys(t, "results extraction", rx, "extraction_id", "parser_id", "status", "file_count", "page_count",
		"credits_used", "created_at", "completed_at", "documents")
	rd := rx["documents"].([]any)[0].(map[string]any)
	wantKeys(t, "results document", rd, "document_id", "filename", "status", "page_count", "credits_used", "confidence",
		"processing_time_ms", "extracted_data", "error_message", "created_at", "updated_at")
	data := rd["extracted_data"].(map[string]any)
	inv := samples.Generate(42, 1, 3)
	if data["invoice_number"] != inv.Number || data["vendor_name"] != inv.Vendor || data["invoice_date"] != inv.Date {
		t.Errorf("extracted_data = %v, want %s / %s / %s", data, inv.Number, inv.Vendor, inv.Date)
	}
	if got, _ := data["total_amount"].(float64); fmt.Sprintf("%.2f", got) != fmt.Sprintf("%.2f", inv.Total()) {
		t.Errorf("total_amount = %v, want %.2f", data["total_amount"], inv.Total())
	}

	d := h.get("/v1/extractions/" + id + "/documents/" + docID)
	wantKeys(t, "document", d.obj("document"), "document_id", "extraction_id", "parser_id", "parser_name", "filename",
		"file_type", "file_size", "status", "page_count", "credits_used", "confidence", "processing_time_ms",
		"extracted_data", "error_message", "created_at", "updated_at")
	wantError(t, "unknown document", h.get("/v1/extractions/"+id+"/documents/doc_nope"), 404, "RESOURCE_NOT_FOUND")
	wantError(t, "unknown extraction", h.get("/v1/extractions/ext_nope"), 404, "RESOURCE_NOT_FOUND")
	wantError(t, "unknown extraction results", h.get("/v1/extractions/ext_nope/results"), 404, "RESOURCE_NOT_FOUND")
	if e := h.get("/v1/extractions/" + id + "/export?format=csv"); e.status != 200 || !strings.Contains(string(e.raw), docID) {
		t.Errorf("export csv: %d %s", e.status, e.raw)
	}
	if e := h.get("/v1/extractions/" + id + "/documents/" + docID + "/export"); e.status != 200 {
		t.Errorf("export document: %d %s", e.status, e.raw)
	}

	s := h.emu.Stats()
	if s.ExtractionsCreated != 1 || s.DocumentsCreated != 2 || s.PagesCharged != 7 || s.IdempotentReplays != 1 ||
		s.CreditsAvailable != 993 || s.Requests["POST /v1/extractions"] != 2 || s.Requests["GET /v1/extractions/:id/documents/:doc_id"] != 2 {
		t.Errorf("stats = %+v", s)
	}
	raw := h.get("/_emulator/stats")
	wantKeys(t, "stats", raw.body, "requests_total", "requests", "responses", "rate_limited", "extractions_created",
		"documents_created", "pages_charged", "idempotent_replays", "credits_available")
}

func TestSubmissionErrors(t *testing.T) {
	h := newHarness(t, emulator.Options{Credits: 5})
	good := invoice(t, 1, 1)
	wantError(t, "no parser_id", h.submit("", nil, good), 400, "INVALID_PAYLOAD")
	wantError(t, "no files", h.submit("prs_invoice", nil), 400, "INVALID_PAYLOAD")
	wantError(t, "unknown parser", h.submit("prs_missing", nil, good), 404, "PARSER_NOT_FOUND")
	wantError(t, "unconfigured parser", h.submit("prs_unconfigured", nil, good), 400, "PARSER_NOT_CONFIGURED")
	wantError(t, "text file", h.submit("prs_invoice", nil, good, file{"notes.pdf", []byte("just text")}), 400, "UNSUPPORTED_FILE_TYPE")
	wantError(t, "truncated pdf", h.submit("prs_invoice", nil, good, file{"cut.pdf", good.data[:len(good.data)/2]}), 400, "PAGE_COUNT_FAILED")
	wantError(t, "credits", h.submit("prs_invoice", nil, invoice(t, 2, 6)), 402, "INSUFFICIENT_CREDITS")
	many := make([]file, 51)
	for i := range many {
		many[i] = good
	}
	wantError(t, "51 files", h.submit("prs_invoice", nil, many...), 400, "INVALID_PAYLOAD")
	wantError(t, "json body", h.postJSON("POST", "/v1/extractions", `{"parser_id":"prs_invoice"}`), 400, "INVALID_PAYLOAD")
	if s := h.emu.Stats(); s.PagesCharged != 0 || s.DocumentsCreated != 0 || s.CreditsAvailable != 5 {
		t.Errorf("refused submissions charged: %+v", s)
	}
	// Images count one page each.
	png := file{"receipt.png", append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, make([]byte, 64)...)}
	if a := h.submit("prs_invoice", nil, png); a.status != 202 || a.obj("extraction")["page_count"] != 1.0 {
		t.Errorf("png: %d %s", a.status, a.raw)
	}
	// Errors are not cached under an idempotency key.
	h.emu.SetCredits(0)
	k := []string{apitypes.HeaderIdempotencyKey, "retry-after-topup"}
	wantError(t, "402 with key", h.submit("prs_invoice", k, good), 402, "INSUFFICIENT_CREDITS")
	h.emu.SetCredits(10)
	if a := h.submit("prs_invoice", k, good); a.status != 202 || a.header.Get(apitypes.HeaderIdempotentReplayed) != "" {
		t.Errorf("after top-up: %d %v", a.status, a.header)
	}
}

func TestFailedDocumentMakesPartialJob(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.submit("prs_invoice", nil, invoice(t, 1, 1), invoice(t, 2, 1, emulator.FailMarker))
	id := a.obj("extraction")["extraction_id"].(string)
	st := h.waitStatus(id, "partial", "completed", "failed")
	if s := st.obj("extraction")["status"]; s != "partial" {
		t.Fatalf("status = %v", s)
	}
	var failed map[string]any
	for _, d := range st.obj("extraction")["documents"].([]any) {
		if d.(map[string]any)["status"] == "failed" {
			failed = d.(map[string]any)
		}
	}
	if failed == nil || failed["error_message"] == nil {
		t.Fatalf("no failed document with a message: %s", st.raw)
	}
	b := h.submit("prs_invoice", nil, invoice(t, 3, 1, emulator.FailMarker))
	h.waitStatus(b.obj("extraction")["extraction_id"].(string), "failed")
}

func TestListFiltersAndCursors(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	var ids []string
	for i := range 5 {
		a := h.submit("prs_invoice", nil, invoice(t, i, 1))
		ids = append(ids, a.obj("extraction")["extraction_id"].(string))
	}
	for _, id := range ids {
		h.waitStatus(id, "completed")
	}
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	late := h.submit("prs_invoice", nil, invoice(t, 99, 1)).obj("extraction")["extraction_id"].(string)

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		q := "/v1/extractions?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		a := h.get(q)
		if a.status != 200 {
			t.Fatalf("list: %d %s", a.status, a.raw)
		}
		p := a.obj("pagination")
		wantKeys(t, "pagination", p, "limit", "has_next_page", "next_cursor")
		for _, x := range a.body["extractions"].([]any) {
			m := x.(map[string]any)
			wantKeys(t, "list item", m, "extraction_id", "parser_id", "parser_name", "status", "file_count", "page_count",
				"credits_used", "created_at", "updated_at", "completed_at", "document_summary")
			wantKeys(t, "document_summary", m["document_summary"].(map[string]any), "total", "completed", "failed", "processing")
			seen = append(seen, m["extraction_id"].(string))
		}
		if p["has_next_page"] != true {
			if p["next_cursor"] != nil {
				t.Errorf("last page cursor = %v", p["next_cursor"])
			}
			break
		}
		cursor = p["next_cursor"].(string)
		if page > 5 {
			t.Fatal("cursor never ends")
		}
	}
	if len(seen) != 6 || seen[0] != late {
		t.Errorf("paged list = %v (newest first, want %s first)", seen, late)
	}
	a := h.get("/v1/extractions?since=" + mid.Format(time.RFC3339Nano))
	if xs := a.body["extractions"].([]any); len(xs) != 1 || xs[0].(map[string]any)["extraction_id"] != late {
		t.Errorf("since filter = %s", a.raw)
	}
	if a := h.get("/v1/extractions?since=2026-06-20T10:00:00Z&status=completed&limit=500"); a.status != 200 ||
		a.obj("pagination")["limit"] != 100.0 {
		t.Errorf("limit clamp / since without millis: %d %s", a.status, a.raw)
	}
	if a := h.get("/v1/extractions?parser_id=prs_other"); len(a.body["extractions"].([]any)) != 0 {
		t.Errorf("parser filter: %s", a.raw)
	}
	wantError(t, "bad status", h.get("/v1/extractions?status=done"), 400, "INVALID_PAYLOAD")
	wantError(t, "bad since", h.get("/v1/extractions?since=yesterday"), 400, "INVALID_PAYLOAD")
	wantError(t, "bad cursor", h.get("/v1/extractions?cursor=%21%21"), 400, "INVALID_PAYLOAD")
}

func TestParsers(t *testing.T) {
	h := newHarness(t, emulator.Options{Credits: 2})
	l := h.get("/v1/parsers?limit=1")
	if l.status != 200 || len(l.body["parsers"].([]any)) != 1 || l.obj("pagination")["has_next_page"] != true {
		t.Fatalf("list: %s", l.raw)
	}
	l2 := h.get("/v1/parsers?limit=1&cursor=" + l.obj("pagination")["next_cursor"].(string))
	if len(l2.body["parsers"].([]any)) != 1 || l2.obj("pagination")["has_next_page"] != false {
		t.Fatalf("page 2: %s", l2.raw)
	}
	g := h.get("/v1/parsers/prs_invoice")
	wantKeys(t, "parser", g.obj("parser"), "parser_id", "name", "description", "result_mode", "schema", "fields",
		"has_sample_file", "sample_file_id", "created_at", "updated_at")
	wantError(t, "get unknown", h.get("/v1/parsers/prs_x"), 404, "PARSER_NOT_FOUND")

	c := h.postJSON("POST", "/v1/parsers", `{"name":"Receipts","result_mode":"one_per_file"}`)
	if c.status != 201 || c.obj("parser")["description"] != nil || len(c.obj("parser")["schema"].(map[string]any)) != 0 {
		t.Fatalf("create: %d %s", c.status, c.raw)
	}
	id := c.obj("parser")["parser_id"].(string)
	wantError(t, "create duplicate", h.postJSON("POST", "/v1/parsers", `{"name":"Receipts"}`), 409, "CONFLICT")
	wantError(t, "create bad mode", h.postJSON("POST", "/v1/parsers", `{"name":"X","result_mode":"all"}`), 400, "INVALID_PAYLOAD")
	wantError(t, "create malformed", h.postJSON("POST", "/v1/parsers", `{"name":`), 400, "INVALID_PAYLOAD")
	wantError(t, "blank parser", h.submit(id, nil, invoice(t, 1, 1)), 400, "PARSER_NOT_CONFIGURED")

	p := h.postJSON("PATCH", "/v1/parsers/"+id, `{"description":"till slips","fields":[{"name":"total","type":"number","required":true}]}`)
	if p.status != 200 || p.obj("parser")["description"] != "till slips" {
		t.Fatalf("patch: %d %s", p.status, p.raw)
	}
	if _, ok := p.obj("parser")["fields"].(map[string]any)["total"]; !ok {
		t.Errorf("fields not a map keyed by name: %s", p.raw)
	}
	wantError(t, "patch unknown", h.postJSON("PATCH", "/v1/parsers/prs_x", `{}`), 404, "PARSER_NOT_FOUND")
	wantError(t, "patch conflict", h.postJSON("PATCH", "/v1/parsers/"+id, `{"name":"Invoice Parser"}`), 409, "CONFLICT")
	wantError(t, "patch bad type", h.postJSON("PATCH", "/v1/parsers/"+id, `{"fields":[{"name":"a","type":"money"}]}`), 400, "INVALID_PAYLOAD")

	// detect-fields, mode A (multipart) and mode B (JSON).
	body, ct := form(t, nil, "file", invoice(t, 1, 1))
	wantError(t, "detect existing", h.do("POST", "/v1/parsers/"+id+"/detect-fields", body, ct), 400, "SCHEMA_ALREADY_EXISTS")
	body, ct = form(t, map[string]string{"replace_existing_schema": "true"}, "file", invoice(t, 1, 1))
	d := h.do("POST", "/v1/parsers/"+id+"/detect-fields", body, ct)
	if d.status != 200 || d.body["parser_id"] != id || d.body["sample_file_id"] == nil || d.body["schema"] == nil {
		t.Fatalf("detect A: %d %s", d.status, d.raw)
	}
	smp := d.body["sample_file_id"].(string)
	wantError(t, "detect B without replace", h.postJSON("POST", "/v1/parsers/"+id+"/detect-fields", `{"sample_file_id":"`+smp+`"}`), 400, "SCHEMA_ALREADY_EXISTS")
	if d := h.postJSON("POST", "/v1/parsers/"+id+"/detect-fields", `{"sample_file_id":"`+smp+`","replace_existing_schema":true}`); d.status != 200 {
		t.Errorf("detect B: %d %s", d.status, d.raw)
	}
	wantError(t, "detect no file", h.postJSON("POST", "/v1/parsers/"+id+"/detect-fields", `{}`), 400, "INVALID_PAYLOAD")
	body, ct = form(t, map[string]string{"replace_existing_schema": "true"}, "file", invoice(t, 1, 3))
	wantError(t, "detect no credits", h.do("POST", "/v1/parsers/"+id+"/detect-fields", body, ct), 402, "INSUFFICIENT_CREDITS")
	wantError(t, "detect unknown parser", h.postJSON("POST", "/v1/parsers/prs_x/detect-fields", `{}`), 404, "PARSER_NOT_FOUND")
}

func TestRateLimitWindows(t *testing.T) {
	window := 2 * time.Second
	// The emulator's clock stands still just after a window boundary, so every
	// request falls in one window however slowly this machine runs them.
	clock := &testClock{t: time.Unix(1_800_000_000, 0).Truncate(window).Add(50 * time.Millisecond)}
	h := newHarness(t, emulator.Options{RateWindow: window, Now: clock.Now})
	good := invoice(t, 1, 1)
	var last answer
	for i := range 20 {
		last = h.submit("prs_invoice", nil, good)
		if last.status != 202 {
			t.Fatalf("submission %d: %d %s", i+1, last.status, last.raw)
		}
	}
	if last.header.Get(apitypes.HeaderRateLimit) != "20" || last.header.Get(apitypes.HeaderRateRemaining) != "0" {
		t.Errorf("submission headers = %v", last.header)
	}
	r := h.submit("prs_invoice", nil, good)
	wantError(t, "21st submission", r, 429, "RATE_LIMITED")
	for i := range 130 {
		if a := h.get("/v1/me"); a.status != 200 {
			t.Fatalf("request %d: %d", 21+i, a.status)
		}
	}
	wantError(t, "151st request", h.get("/v1/me"), 429, "RATE_LIMITED")
	if s := h.emu.Stats(); s.RateLimited != 2 || s.Responses["429"] != 2 {
		t.Errorf("stats = %+v", s)
	}
	// After the reset, requests go through again.
	reset, _ := strconv.ParseInt(r.header.Get(apitypes.HeaderRateReset), 10, 64)
	if a := h.get("/v1/me"); a.status != 429 {
		t.Fatalf("before the reset: %d, want 429", a.status)
	}
	clock.Set(time.Unix(reset, 0))
	if a := h.get("/v1/me"); a.status != 200 {
		t.Fatalf("after reset: %d", a.status)
	}
}

// testClock is a clock that moves only when told to.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestWebhookEndpointsAndDelivery(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	type got struct {
		sig, static string
		body        []byte
	}
	deliveries := make(chan got, 16)
	var fails atomic.Int32
	fails.Store(1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if fails.Add(-1) >= 0 { // the first attempt fails: the emulator must retry
			w.WriteHeader(503)
			return
		}
		deliveries <- got{r.Header.Get(apitypes.HeaderSignature), r.Header.Get(apitypes.HeaderWebhookSecret), b}
	}))
	defer recv.Close()
	wantError(t, "https required", h.postJSON("POST", "/v1/webhooks", `{"url":"http://example.com/x","events":["extraction.job_completed"]}`), 400, "INVALID_PAYLOAD")
	wantError(t, "bad event", h.postJSON("POST", "/v1/webhooks", `{"url":"`+recv.URL+`","events":["batch.done"]}`), 400, "INVALID_PAYLOAD")
	wantError(t, "short secret", h.postJSON("POST", "/v1/webhooks", `{"url":"`+recv.URL+`","events":["extraction.job_completed"],"secret":"abc"}`), 400, "INVALID_PAYLOAD")
	c := h.postJSON("POST", "/v1/webhooks", `{"url":"`+recv.URL+`","events":["extraction.document_completed","extraction.job_completed"],"secret":"static-123"}`)
	if c.status != 201 {
		t.Fatalf("create: %d %s", c.status, c.raw)
	}
	wh := c.obj("webhook")
	wantKeys(t, "created webhook", wh, "webhook_id", "url", "events", "is_active", "created_at", "signing_secret")
	id, secret := wh["webhook_id"].(string), wh["signing_secret"].(string)
	l := h.get("/v1/webhooks")
	wantKeys(t, "listed webhook", l.body["webhooks"].([]any)[0].(map[string]any), "webhook_id", "url", "events", "is_active", "created_at")

	a := h.submit("prs_invoice", nil, invoice(t, 1, 1))
	ext := a.obj("extraction")["extraction_id"].(string)
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case d := <-deliveries:
			if d.sig != emulator.Sign(secret, d.body) || d.static != "static-123" {
				t.Fatalf("bad signature or secret on %s", d.body)
			}
			var p apitypes.WebhookPayload
			if err := json.Unmarshal(d.body, &p); err != nil || p.ExtractionID != ext || p.EventID == "" {
				t.Fatalf("payload %s", d.body)
			}
			if p.Event == apitypes.EventDocumentCompleted && p.DocumentID == "" {
				t.Fatalf("document event without document_id: %s", d.body)
			}
			seen[p.Event] = true
		case <-time.After(patience.Scale(10 * time.Second)):
			t.Fatalf("deliveries seen: %v", seen)
		}
	}
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for {
		g := h.get("/v1/webhooks/" + id)
		if ds, _ := g.obj("webhook")["deliveries"].([]any); len(ds) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log (want a failed attempt and two successes): %s", g.raw)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := h.postJSON("PATCH", "/v1/webhooks/"+id, `{"is_active":false}`); p.status != 200 || p.obj("webhook")["is_active"] != false {
		t.Errorf("patch: %s", p.raw)
	}
	wantError(t, "patch bad url", h.postJSON("PATCH", "/v1/webhooks/"+id, `{"url":"ftp://x"}`), 400, "INVALID_PAYLOAD")
	if tr := h.do("POST", "/v1/webhooks/"+id+"/test", nil, ""); tr.status != 200 {
		t.Errorf("test: %d %s", tr.status, tr.raw)
	}
	select {
	case d := <-deliveries:
		if !strings.Contains(string(d.body), `"test":true`) {
			t.Errorf("test delivery %s", d.body)
		}
	case <-time.After(patience.Scale(10 * time.Second)):
		t.Fatal("test delivery never came")
	}
	if d := h.do("DELETE", "/v1/webhooks/"+id, nil, ""); d.status != 204 || len(d.raw) != 0 {
		t.Errorf("delete: %d %s", d.status, d.raw)
	}
	wantError(t, "get deleted", h.get("/v1/webhooks/"+id), 404, "RESOURCE_NOT_FOUND")
	wantError(t, "delete again", h.do("DELETE", "/v1/webhooks/"+id, nil, ""), 404, "RESOURCE_NOT_FOUND")
}

// PDFs written by other tools: page counts must match pdfinfo.
func TestPageCountsMatchPdfinfo(t *testing.T) {
	qpdf, errQ := exec.LookPath("qpdf")
	pdfinfo, errI := exec.LookPath("pdfinfo")
	if errQ != nil || errI != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qpdf and pdfinfo (apt: qpdf poppler-utils) are required in CI")
		}
		t.Skip("SKIPPED: qpdf or pdfinfo not installed (apt-get install qpdf poppler-utils); CI installs them")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.pdf")
	if err := os.WriteFile(base, invoice(t, 1, 3).data, 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.pdf")
	if err := os.WriteFile(other, invoice(t, 2, 2).data, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
			t.Fatalf("qpdf %v: %v\n%s", args, err, out)
		}
	}
	variants := map[string][]string{
		"objstreams.pdf": {"--object-streams=generate", base},
		"linearized.pdf": {"--linearize", base},
		"encrypted.pdf":  {"--encrypt", "", "owner-pw", "256", "--", base},
		"merged.pdf":     {"--empty", "--pages", base, other, base, "--"},
		"rc4.pdf":        {"--allow-weak-crypto", "--encrypt", "", "owner-pw", "128", "--use-aes=n", "--", base},
	}
	h := newHarness(t, emulator.Options{})
	for name, args := range variants {
		out := filepath.Join(dir, name)
		run(append(args, out)...)
		info, err := exec.Command(pdfinfo, out).Output()
		if err != nil {
			t.Fatalf("pdfinfo %s: %v", name, err)
		}
		m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
		if m == nil {
			t.Fatalf("pdfinfo %s: no page count in %s", name, info)
		}
		want, _ := strconv.ParseFloat(string(m[1]), 64)
		data, _ := os.ReadFile(out)
		a := h.submit("prs_invoice", nil, file{name, data})
		if a.status != 202 {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
			continue
		}
		if got := a.obj("extraction")["page_count"]; got != want {
			t.Errorf("%s: page_count %v, pdfinfo says %v", name, got, want)
		}
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	wantError(t, "unknown route", h.get("/v1/documents"), 404, "RESOURCE_NOT_FOUND")
}
