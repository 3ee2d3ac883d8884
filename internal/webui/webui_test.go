package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

func getJSON(t *testing.T, srv string, path string, v any) int {
	t.Helper()
	resp, err := http.Get(srv + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func post(t *testing.T, srv, path string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, srv+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func TestPageAndAssetsAreServed(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{})
	for _, c := range []struct{ path, want string }{
		{"/", `<script src="/ui/static/app.`},
		{"/ui/static/app.js", "X-PPSync-Request"},
		{"/ui/static/style.css", ".counts"},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: %d, body without %q", c.path, resp.StatusCode, c.want)
		}
	}
	resp, _ := http.Get(srv.URL + "/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("page CSP = %q, want scripts from the page's own origin only", csp)
	}
	resp.Body.Close()
}

// TestStaticFilesAreHashedCompressedAndCached: the page names its files by
// a hash of their content; those are cached for a year and sent gzipped to
// a client that takes gzip; the plain names still answer, revalidated.
func TestStaticFilesAreHashedCompressedAndCached(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{})
	page := fetch(t, srv.URL+"/", nil)
	names := regexp.MustCompile(`/ui/static/(app|style|favicon)\.([0-9a-f]{10})\.(js|css|svg)`).FindAllString(page.body, -1)
	if len(names) != 3 {
		t.Fatalf("the page names %v, want app.js, style.css and favicon.svg by a content hash", names)
	}
	for _, n := range names {
		r := fetch(t, srv.URL+n, map[string]string{"Accept-Encoding": "gzip"})
		if r.code != 200 || !strings.Contains(r.hdr.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, Cache-Control %q, want 200 cached as immutable", n, r.code, r.hdr.Get("Cache-Control"))
		}
		if !strings.HasSuffix(n, ".svg") || r.hdr.Get("Content-Encoding") != "" {
			if r.hdr.Get("Content-Encoding") != "gzip" {
				t.Errorf("GET %s with Accept-Encoding: gzip: Content-Encoding %q", n, r.hdr.Get("Content-Encoding"))
			}
		}
	}
	r := fetch(t, srv.URL+"/ui/static/app.js", nil)
	if r.code != 200 || r.hdr.Get("Cache-Control") != "no-cache" || !strings.Contains(r.body, "X-PPSync-Request") {
		t.Errorf("GET /ui/static/app.js: %d, Cache-Control %q", r.code, r.hdr.Get("Cache-Control"))
	}
	if r := fetch(t, srv.URL+"/ui/static/nothing.js", nil); r.code != 404 {
		t.Errorf("GET an unknown static file: %d, want 404", r.code)
	}
}

type fetched struct {
	code int
	hdr  http.Header
	body string
}

// fetch GETs u with hdr, taking the body as sent (not decompressed).
func fetch(t *testing.T, u string, hdr map[string]string) fetched {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, resp.Header, string(b)}
}

func TestOverviewIsTheReport(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.add(t, 0, "a.pdf", "done", 2, now)
	f.add(t, 0, "b.pdf", "failed", 1, now)
	f.add(t, 1, "c.pdf", "queued", 3, now)
	f.add(t, 1, "d.pdf", "invalid", 0, now)
	f.act.Result(5*time.Second, 2)
	srv := f.server(t, Options{})
	var ov Overview
	if code := getJSON(t, srv.URL, "/ui/api/overview", &ov); code != 200 {
		t.Fatalf("overview: %d", code)
	}
	want, _ := f.live.Status(context.Background())
	if len(ov.Report.Inboxes) != 2 {
		t.Fatalf("inboxes = %d", len(ov.Report.Inboxes))
	}
	for i, in := range want.Inboxes {
		for s, n := range in.Files {
			if got := ov.Report.Inboxes[i].Files[s]; got != n {
				t.Errorf("inbox %d %s = %d, report says %d", i, s, got, n)
			}
		}
	}
	if ov.Report.Inboxes[0].Files["done"] != 1 || ov.Report.Inboxes[1].Files["queued"] != 1 || ov.Report.Inboxes[1].Files["refused"] != 1 {
		t.Errorf("counts %v %v", ov.Report.Inboxes[0].Files, ov.Report.Inboxes[1].Files)
	}
	if ov.Activity == nil || ov.Activity.Hours[23].Docs != 1 || ov.Activity.LatencyP50 != 5 {
		t.Errorf("activity = %+v, want the recorded result", ov.Activity)
	}
	if ov.Upload != nil || !ov.Reprocess {
		t.Errorf("upload %v reprocess %v: want upload off, reprocess offered", ov.Upload, ov.Reprocess)
	}
}

func TestFilesSearchSortPaginate(t *testing.T) {
	f := newFixture(t)
	base := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := range 25 {
		st := "done"
		if i%5 == 0 {
			st = "failed"
		}
		f.add(t, i%2, "invoice-"+string(rune('a'+i))+".pdf", st, i+1, base.Add(time.Duration(i)*time.Minute))
	}
	f.add(t, 0, "Receipt-Hotel.pdf", "submitted", 1, base)
	srv := f.server(t, Options{})
	names := func(p Page) []string {
		var out []string
		for _, r := range p.Rows {
			out = append(out, r.Name)
		}
		return out
	}
	tests := []struct {
		name, query  string
		total, rows  int
		first, state string
	}{
		{"first page by name", "sort=name&limit=10", 26, 10, "invoice-a.pdf", ""},
		{"third page", "sort=name&limit=10&offset=20", 26, 6, "invoice-u.pdf", ""},
		{"newest first", "sort=-when&limit=3", 26, 3, "invoice-y.pdf", ""},
		{"most pages first", "sort=-pages&limit=1", 26, 1, "invoice-y.pdf", ""},
		{"search is case-insensitive", "q=HOTEL", 1, 1, "Receipt-Hotel.pdf", "in_flight"},
		{"state filter", "state=failed&sort=name", 5, 5, "invoice-a.pdf", "failed"},
		{"inbox filter", "inbox=" + url.QueryEscape(f.inboxes[1]) + "&limit=100", 12, 12, "", ""},
		{"past the end", "offset=100", 26, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Page
			if code := getJSON(t, srv.URL, "/ui/api/files?"+tt.query, &p); code != 200 {
				t.Fatalf("status %d", code)
			}
			if p.Total != tt.total || len(p.Rows) != tt.rows || p.Tracked != 26 {
				t.Fatalf("total %d rows %d tracked %d; want %d %d 26 (%v)", p.Total, len(p.Rows), p.Tracked, tt.total, tt.rows, names(p))
			}
			if tt.first != "" && p.Rows[0].Name != tt.first {
				t.Fatalf("first = %s, want %s (%v)", p.Rows[0].Name, tt.first, names(p))
			}
			if tt.state != "" && p.Rows[0].State != tt.state {
				t.Fatalf("state = %s, want %s", p.Rows[0].State, tt.state)
			}
		})
	}
	if code := getJSON(t, srv.URL, "/ui/api/files?limit=x", nil); code != http.StatusBadRequest {
		t.Errorf("limit=x: %d, want 400", code)
	}
}

func TestFileLifeAndData(t *testing.T) {
	f := newFixture(t)
	done := f.add(t, 0, "invoice.pdf", "done", 2, time.Now())
	failed := f.add(t, 1, "scan.pdf", "failed", 1, time.Now())
	srv := f.server(t, Options{})

	var fd FileDetail
	if code := getJSON(t, srv.URL, "/ui/api/file?path="+url.QueryEscape(done), &fd); code != 200 {
		t.Fatalf("file: %d", code)
	}
	var whats []string
	for _, e := range fd.Life {
		whats = append(whats, e.What)
	}
	for _, w := range []string{"seen", "submitted", "result written"} {
		if !slices.Contains(whats, w) {
			t.Errorf("life %v lacks %q", whats, w)
		}
	}
	if fd.IdempotencyKey == "" || fd.ExtractionID != "ext_1" || fd.DocumentID != "doc_1" || !bytes.Contains(fd.Document, []byte("line_items")) || fd.ResultNote != "" {
		t.Errorf("detail = key %q job %q doc %q document %s missing %q", fd.IdempotencyKey, fd.ExtractionID, fd.DocumentID, fd.Document, fd.ResultNote)
	}
	raw := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/ui/api/raw?path=" + url.QueryEscape(done))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := raw(); code != 200 || !strings.Contains(body, `"sha256":`) || !strings.Contains(body, "Acme Corp") {
		t.Errorf("raw: %d %s, want the result file as written", code, body)
	}

	// Moved with its result by after = "move" (to the default
	// processed_dir, inside the inbox): read where it went.
	movedTo := filepath.Join(f.inboxes[0], "processed", "invoice.pdf")
	if err := os.MkdirAll(filepath.Dir(movedTo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(done+".json", movedTo+".json"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Update(func(tx *state.Tx) error {
		rec, _, err := tx.File(done)
		if err != nil {
			return err
		}
		rec.MovedTo = movedTo
		return tx.SeedFile(rec)
	}); err != nil {
		t.Fatal(err)
	}
	if code, body := raw(); code != 200 || !strings.Contains(body, "Acme Corp") {
		t.Errorf("raw of a moved file: %d %s, want the moved result file", code, body)
	}
	if getJSON(t, srv.URL, "/ui/api/file?path="+url.QueryEscape(done), &fd); fd.ResultPath != movedTo+".json" || !bytes.Contains(fd.Document, []byte("Acme Corp")) {
		t.Errorf("detail of a moved file: result path %q document %s", fd.ResultPath, fd.Document)
	}

	// Deleted: the state keeps no copy, and the page says so.
	if err := os.Remove(movedTo + ".json"); err != nil {
		t.Fatal(err)
	}
	if code, body := raw(); code != 404 || !strings.Contains(body, "no longer on disk") {
		t.Errorf("raw without result file: %d %s, want 404 saying it is gone", code, body)
	}
	fd = FileDetail{}
	if code := getJSON(t, srv.URL, "/ui/api/file?path="+url.QueryEscape(done), &fd); code != 200 || fd.Document != nil ||
		!strings.Contains(fd.ResultNote, done+".json") || !strings.Contains(fd.ResultNote, "no copy") {
		t.Errorf("detail without result file: %d document %s missing %q", code, fd.Document, fd.ResultNote)
	}

	if code := getJSON(t, srv.URL, "/ui/api/file?path="+url.QueryEscape(failed), &fd); code != 200 || fd.Fix == nil || !fd.Fix.Retry || fd.Code != "EXTRACTION_FAILED" {
		t.Errorf("failed file: %d fix %+v code %q", code, fd.Fix, fd.Code)
	}
	for _, p := range []string{"/etc/passwd", filepath.Join(f.inboxes[0], "nope.pdf")} {
		if code := getJSON(t, srv.URL, "/ui/api/file?path="+url.QueryEscape(p), nil); code != 404 {
			t.Errorf("file %s: %d, want 404", p, code)
		}
		if code := getJSON(t, srv.URL, "/ui/api/raw?path="+url.QueryEscape(p), nil); code != 404 {
			t.Errorf("raw %s: %d, want 404", p, code)
		}
	}
}

func TestEstimateThenRetry(t *testing.T) {
	f := newFixture(t)
	failed := f.add(t, 0, "bad.pdf", "failed", 3, time.Now())
	refused := f.add(t, 0, "junk.pdf", "invalid", 0, time.Now())
	done := f.add(t, 0, "good.pdf", "done", 2, time.Now())
	srv := f.server(t, Options{})
	hdr := map[string]string{RequestHeader: "1"}

	resp, body := post(t, srv.URL, "/ui/api/estimate", ActionRequest{Action: "retry", Paths: []string{failed, refused, done}}, hdr)
	var est EstimateAnswer
	if err := json.Unmarshal(body, &est); err != nil || resp.StatusCode != 200 {
		t.Fatalf("estimate: %d %s", resp.StatusCode, body)
	}
	if len(est.Files) != 2 || est.Pages != 3 || est.Unknown != 1 || est.Skipped[done] == "" {
		t.Fatalf("estimate = %+v; want the failed and refused file, 3 pages, 1 unknown, the done file skipped", est)
	}
	resp, body = post(t, srv.URL, "/ui/api/estimate", ActionRequest{Action: "reprocess", Paths: []string{done}}, hdr)
	if err := json.Unmarshal(body, &est); err != nil || resp.StatusCode != 200 || est.Pages != 2 || len(est.Files) != 1 {
		t.Fatalf("reprocess estimate: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv.URL, "/ui/api/retry", ActionRequest{Paths: []string{failed}}, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("retry: %d %s", resp.StatusCode, body)
	}
	resp, _ = post(t, srv.URL, "/ui/api/reprocess", ActionRequest{Paths: []string{done}}, hdr)
	retried, reprocessed := f.live.calls()
	if resp.StatusCode != 200 || len(retried) != 1 || retried[0][0] != failed || len(reprocessed) != 1 || reprocessed[0][0] != done {
		t.Fatalf("retry calls %v, reprocess calls %v", retried, reprocessed)
	}
	if resp, body := post(t, srv.URL, "/ui/api/retry", map[string]any{}, hdr); resp.StatusCode != 400 {
		t.Errorf("retry without paths: %d %s", resp.StatusCode, body)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	f := newFixture(t)
	failed := f.add(t, 0, "bad.pdf", "failed", 1, time.Now())
	srv := f.server(t, Options{})
	body := ActionRequest{Paths: []string{failed}}
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"form post from another site", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}, 403},
		{"plain text post", map[string]string{"Content-Type": "text/plain"}, 403},
		{"json from another origin", map[string]string{"Origin": "https://evil.example"}, 403},
		{"json marked cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"opaque origin", map[string]string{"Origin": "null"}, 403},
		{"same origin from the page", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin", RequestHeader: "1"}, 200},
		{"json from a command-line client", map[string]string{}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.live.calls()
			resp, b := post(t, srv.URL, "/ui/api/retry", body, tt.hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tt.want)
			}
			after, _ := f.live.calls()
			if tt.want == 403 && len(after) != len(before) {
				t.Fatal("a refused request still reached Retry")
			}
		})
	}
}
