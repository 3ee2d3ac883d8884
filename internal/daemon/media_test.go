package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/rebuild"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
)

// partTypes records the Content-Type of every file part the client sends,
// by upload name.
type partTypes struct {
	mu    sync.Mutex
	types map[string]string
}

func (p *partTypes) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for part, err := mr.NextPart(); err == nil; part, err = mr.NextPart() {
				if part.FileName() != "" {
					p.mu.Lock()
					p.types[part.FileName()] = part.Header.Get("Content-Type")
					p.mu.Unlock()
				}
			}
		}
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (p *partTypes) get() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.types))
	for k, v := range p.types {
		out[k] = v
	}
	return out
}

// A 1×1 lossless WebP: Go has no WebP encoder.
var tinyWebP, _ = base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

func receipt(t *testing.T, n int, png bool) []byte {
	t.Helper()
	r := samples.GenerateReceipt(11, n)
	b, err := samples.ReceiptJPEG(r)
	if png {
		b, err = samples.ReceiptPNG(r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A mixed inbox: PDFs and PNG, JPEG and WebP photos get results and are
// charged a page each (an image costs one credit), sent with their own
// content type; a HEIC photo and a truncated JPEG get error files and cost
// nothing.
func TestMediaMixedInboxImagesAndPDFs(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	rec := &partTypes{types: map[string]string{}}
	jpg := receipt(t, 2, false)
	files := map[string][]byte{
		"invoice-a.pdf":     pdf(t, 1, 1),
		"invoice-b.pdf":     pdf(t, 2, 3),
		"receipt.png":       receipt(t, 1, true),
		"receipt photo.jpg": jpg,
		"tiny.webp":         tinyWebP,
		"IMG_0001.HEIC":     append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...),
		"cut-off.jpeg":      jpg[:len(jpg)/2],
	}
	for name, b := range files {
		write(t, filepath.Join(e.inbox, name), b)
	}
	o := e.options(cfg, true)
	o.Transport = rec
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sum, err := daemon.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	wantTypes := map[string]string{"invoice-a.pdf": "application/pdf", "invoice-b.pdf": "application/pdf",
		"receipt.png": "image/png", "receipt photo.jpg": "image/jpeg", "tiny.webp": "image/webp"}
	for name, ct := range wantTypes {
		p := filepath.Join(e.inbox, name)
		r := readResult(t, p)
		var d struct {
			PageCount int            `json:"page_count"`
			Data      map[string]any `json:"extracted_data"`
		}
		if err := json.Unmarshal(r.Document, &d); err != nil || len(d.Data) == 0 {
			t.Errorf("%s: result without data: %s (%v)", name, r.Document, err)
		}
		if exists(results.ErrorPath(p)) {
			t.Errorf("%s: has an error file too", name)
		}
		if got := rec.get()[name]; got != ct {
			t.Errorf("%s sent as %q, want %q", name, got, ct)
		}
	}
	for name, code := range map[string]string{"IMG_0001.HEIC": "UNSUPPORTED_FILE_TYPE", "cut-off.jpeg": "INCOMPLETE_FILE"} {
		p := filepath.Join(e.inbox, name)
		ef := readError(t, p)
		if ef.Error.Code != code {
			t.Errorf("%s: error %s (%s), want %s", name, ef.Error.Code, ef.Error.Message, code)
		}
		if _, sent := rec.get()[name]; sent || exists(results.ResultPath(p)) {
			t.Errorf("%s was uploaded", name)
		}
	}
	if msg := readError(t, filepath.Join(e.inbox, "IMG_0001.HEIC")).Error.Message; !strings.Contains(msg, "JPEG") {
		t.Errorf("the HEIC error does not say what to convert to: %q", msg)
	}
	if msg := readError(t, filepath.Join(e.inbox, "cut-off.jpeg")).Error.Message; !strings.Contains(msg, "JPEG image") {
		t.Errorf("the truncated JPEG's error does not say what is missing: %q", msg)
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != 5 || st.PagesCharged != 1+3+3 {
		t.Errorf("documents_created=%d pages_charged=%d, want 5 and 7 (4 PDF pages + 3 images)", st.DocumentsCreated, st.PagesCharged)
	}
	if sum.Done != 5 || sum.Invalid != 2 || sum.Failed != 0 {
		t.Errorf("summary = %+v, want 5 done and 2 refused", sum)
	}
}

// snapshot is every entry under root: its path relative to root, then
// "dir" or its size and sha256.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// untouched fails unless the inbox holds exactly want, allowing only the
// lease file while a daemon runs (and the temp file of its renewal, every
// ten seconds, should the walk meet one).
func untouched(t *testing.T, inbox string, want map[string]string, running bool) {
	t.Helper()
	got := snapshot(t, inbox)
	if running {
		delete(got, lease.FileName)
		for rel := range got {
			if !strings.ContainsRune(rel, filepath.Separator) && results.IsOwnOutput(rel) && !strings.HasSuffix(rel, ".json") {
				delete(got, rel)
			}
		}
	}
	for rel, sum := range want {
		if got[rel] != sum {
			t.Errorf("inbox entry %s changed: %.12s, want %.12s", rel, got[rel], sum)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("inbox has an entry users did not drop: %s", rel)
		}
	}
}

// With results_dir the inbox stays byte for byte as users filled it (the
// lease file is there only while the daemon runs); every output is in the
// mirrored tree; a changed file's new result replaces the old one there;
// a state rebuild recovers the finished files from results_dir.
func TestResultsDirLeavesTheInboxUntouched(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("recursive = true\nresults_dir = \"results\"")
	resultsDir := filepath.Join(e.root, "results")
	drop := map[string][]byte{
		"a.pdf":                   pdf(t, 1, 1),
		"2026/03/b.pdf":           pdf(t, 2, 2),
		"2026/03/receipt.jpg":     receipt(t, 3, false),
		"2026/broken.pdf":         []byte("%PDF-1.4 no trailer"),
		"phone/IMG_0002.heic":     append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...),
		"deep/er/still/c.png":     receipt(t, 4, true),
		"deep/er/still/empty.txt": []byte("not watched"),
	}
	for rel, b := range drop {
		write(t, filepath.Join(e.inbox, filepath.FromSlash(rel)), b)
	}
	before := snapshot(t, e.inbox)
	out := func(rel, suffix string) string { return filepath.Join(resultsDir, filepath.FromSlash(rel)+suffix) }
	done := []string{"a.pdf", "2026/03/b.pdf", "2026/03/receipt.jpg", "deep/er/still/c.png"}
	failed := []string{"2026/broken.pdf", "phone/IMG_0002.heic"}

	stop := e.start(cfg)
	e.waitFor("every output in results_dir", 30*time.Second, func() bool {
		for _, rel := range done {
			if !exists(out(rel, results.ResultSuffix)) {
				return false
			}
		}
		for _, rel := range failed {
			if !exists(out(rel, results.ErrorSuffix)) {
				return false
			}
		}
		return true
	})
	untouched(t, e.inbox, before, true)

	// A changed file is processed again; its new result replaces the old one.
	changed := filepath.Join(e.inbox, "a.pdf")
	newContent := pdf(t, 9, 2)
	write(t, changed, newContent)
	sum := sha256.Sum256(newContent)
	before["a.pdf"] = hex.EncodeToString(sum[:])
	e.waitFor("the changed file's new result", 30*time.Second, func() bool {
		src, ok := results.ReadSourceAt(out("a.pdf", results.ResultSuffix))
		return ok && src.SHA256 == before["a.pdf"]
	})
	var r results.Result
	b, _ := os.ReadFile(out("a.pdf", results.ResultSuffix))
	if err := json.Unmarshal(b, &r); err != nil || invoiceNumber(t, r) != "INV-2026-00009" || r.Source.Path != changed {
		t.Errorf("the changed file's result: %v %+v", err, r.Source)
	}
	stop()
	untouched(t, e.inbox, before, false)
	for _, rel := range done {
		if exists(filepath.Join(e.inbox, filepath.FromSlash(rel)+results.ResultSuffix)) {
			t.Errorf("%s: a result beside the file", rel)
		}
	}
	noTempFiles(t, e.root)
	st := e.emu.Stats()
	if st.DocumentsCreated != 5 || st.PagesCharged != 1+2+1+1+2 {
		t.Errorf("documents_created=%d pages_charged=%d, want 5 and 7", st.DocumentsCreated, st.PagesCharged)
	}

	// The state is lost: a rebuild finds every finished file in results_dir,
	// and a run after it submits nothing.
	if err := os.Remove(cfg.State.Path); err != nil {
		t.Fatal(err)
	}
	res, err := rebuild.Run(t.Context(), cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != len(done) || res.Failed != len(failed) {
		t.Errorf("rebuild: %d done, %d failed; want %d and %d", res.Done, res.Failed, len(done), len(failed))
	}
	s, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st2 := e.emu.Stats(); st2.DocumentsCreated != st.DocumentsCreated {
		t.Errorf("after the rebuild %d more documents were submitted", st2.DocumentsCreated-st.DocumentsCreated)
	}
	if s.Done != len(done) {
		t.Errorf("after the rebuild: %+v", s)
	}
	untouched(t, e.inbox, before, false)
}

// With after = "move" and results_dir, the file moves to processed_dir and
// its result stays in results_dir.
func TestResultsDirWithMoveLeavesOutputsInPlace(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("results_dir = \"results\"\nafter = \"move\"\nprocessed_dir = \"processed\"\nfailed_dir = \"failed\"")
	write(t, filepath.Join(e.inbox, "a.pdf"), pdf(t, 1, 1))
	write(t, filepath.Join(e.inbox, "bad.png"), []byte("not a png at all"))
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err) // moved files leave the state: the summary has none to count
	}
	for _, c := range []struct{ moved, output string }{
		{filepath.Join(e.root, "processed", "a.pdf"), filepath.Join(e.root, "results", "a.pdf.json")},
		{filepath.Join(e.root, "failed", "bad.png"), filepath.Join(e.root, "results", "bad.png.error.json")},
	} {
		if !exists(c.moved) {
			t.Errorf("%s: not moved", c.moved)
		}
		if !exists(c.output) {
			t.Errorf("%s: output not in results_dir", c.output)
		}
		entries, _ := os.ReadDir(filepath.Dir(c.moved))
		for _, en := range entries {
			if strings.HasSuffix(en.Name(), ".json") {
				t.Errorf("an output was moved with the file: %s", filepath.Join(filepath.Dir(c.moved), en.Name()))
			}
		}
	}
	if got := snapshot(t, e.inbox); len(got) != 0 {
		t.Errorf("the inbox still holds %v", got)
	}
}

func readLedger(t *testing.T, path string) (header []string, rows map[string][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("ledger %s: %v", path, err)
	}
	rows = map[string][]string{}
	for _, r := range recs[1:] {
		key := filepath.Join(r[1], r[0])
		if _, dup := rows[key]; dup {
			t.Errorf("ledger lists %s twice", key)
		}
		rows[key] = r
	}
	return recs[0], rows
}

func column(t *testing.T, header []string, name string) int {
	t.Helper()
	i := slices.Index(header, name)
	if i < 0 {
		t.Fatalf("ledger has no %s column: %q", name, header)
	}
	return i
}

// The ledger lists one row per document in the parser's columns, images
// included; copies share a row; an error file has none; a file processed
// again replaces its row.
func TestLedgerRowsPerDocumentAndReprocessing(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("recursive = true\nresults_dir = \"results\"\nledger = \"invoices.csv\"")
	ledgerPath := filepath.Join(e.root, "results", "invoices.csv")
	if cfg.Inboxes[0].Ledger != ledgerPath {
		t.Fatalf("ledger at %s, want %s", cfg.Inboxes[0].Ledger, ledgerPath)
	}
	a := pdf(t, 1, 2)
	write(t, filepath.Join(e.inbox, "a.pdf"), a)
	write(t, filepath.Join(e.inbox, "copies", "copy of a.pdf"), a)
	write(t, filepath.Join(e.inbox, "march", "b.pdf"), pdf(t, 2, 1))
	write(t, filepath.Join(e.inbox, "march", "receipt.jpg"), receipt(t, 5, false))
	write(t, filepath.Join(e.inbox, "broken.pdf"), []byte("%PDF-1.4 cut"))
	if sum, err := e.once(cfg); err != nil || sum.Done != 4 || sum.Invalid != 1 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	header, rows := readLedger(t, ledgerPath)
	// a.pdf and its copy share one document, listed once under the file
	// that was submitted.
	first := "a.pdf"
	if _, ok := rows[first]; !ok {
		first = filepath.Join("copies", "copy of a.pdf")
	}
	want := []string{first, filepath.Join("march", "b.pdf"), filepath.Join("march", "receipt.jpg")}
	if len(rows) != len(want) {
		t.Fatalf("ledger rows %v, want %v", keys(rows), want)
	}
	for _, k := range want {
		if _, ok := rows[k]; !ok {
			t.Errorf("no row for %s in %v", k, keys(rows))
		}
	}
	for _, col := range []string{"file", "folder", "vendor_name", "invoice_number", "total_amount", "line_items", "pages", "credits", "document_id", "sha256"} {
		column(t, header, col)
	}
	if header[2] != "vendor_name" {
		t.Errorf("the parser's schema does not give the columns: %q", header)
	}
	if got := rows[first][column(t, header, "pages")]; got != "2" {
		t.Errorf("%s pages = %q", first, got)
	}
	oldID := rows[first][column(t, header, "document_id")]

	// a.pdf changes: its row is replaced by the new document's; the old
	// document is still the copy's, and is listed once, under the copy.
	write(t, filepath.Join(e.inbox, "a.pdf"), pdf(t, 7, 1))
	if sum, err := e.once(cfg); err != nil || sum.Done != 4 {
		t.Fatalf("second run: %+v %v", sum, err)
	}
	_, rows2 := readLedger(t, ledgerPath)
	want2 := []string{"a.pdf", filepath.Join("copies", "copy of a.pdf"), filepath.Join("march", "b.pdf"), filepath.Join("march", "receipt.jpg")}
	if !slices.Equal(keys(rows2), sorted(want2)) {
		t.Fatalf("after reprocessing: rows %v, want %v", keys(rows2), sorted(want2))
	}
	if r := rows2["a.pdf"]; r[column(t, header, "document_id")] == oldID || r[column(t, header, "invoice_number")] != "INV-2026-00007" {
		t.Errorf("a.pdf's row was not replaced: %q", r)
	}
	if r := rows2[filepath.Join("copies", "copy of a.pdf")]; r[column(t, header, "document_id")] != oldID {
		t.Errorf("the copy's row is not the old document's: %q", r)
	}
	for k, r := range rows2 {
		for k2, r2 := range rows2 {
			if k != k2 && r[column(t, header, "document_id")] == r2[column(t, header, "document_id")] {
				t.Errorf("%s and %s list the same document", k, k2)
			}
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A file's record names its output in results_dir.
func TestResultsDirRecordsOutputPaths(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("results_dir = \"out\"")
	p := filepath.Join(e.inbox, "a.pdf")
	write(t, p, pdf(t, 1, 1))
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.View(func(tx *state.Tx) error {
		f, ok, err := tx.File(p)
		if err != nil || !ok || f.Result != filepath.Join(e.root, "out", "a.pdf.json") || f.State != state.FileDone {
			t.Errorf("record = %+v %v", f, err)
		}
		return nil
	})
}

// noParsers answers every GET /v1/parsers/:id with 404, as an API that
// does not describe its parsers.
type noParsers struct{}

func (noParsers) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/parsers/") {
		body := `{"error":{"code":"PARSER_NOT_FOUND","message":"Parser not found."}}`
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Request: r, ContentLength: int64(len(body)),
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Without the parser's schema the ledger is still written, its columns
// taken from the documents' own keys: results are never held back for it.
func TestLedgerWithoutSchemaUsesTheDocumentsKeys(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("ledger = \"invoices.csv\"")
	write(t, filepath.Join(e.inbox, "a.pdf"), pdf(t, 1, 1))
	write(t, filepath.Join(e.inbox, "b.pdf"), pdf(t, 2, 1))
	o := e.options(cfg, true)
	o.Transport = noParsers{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if sum, err := daemon.Run(ctx, o); err != nil || sum.Done != 2 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	header, rows := readLedger(t, filepath.Join(e.inbox, "invoices.csv"))
	if len(rows) != 2 {
		t.Fatalf("rows %v", keys(rows))
	}
	if got := rows["a.pdf"][column(t, header, "invoice_number")]; got != "INV-2026-00001" {
		t.Errorf("a.pdf invoice_number = %q", got)
	}
	if !strings.Contains(e.logs.String(), "cannot read the parser's schema") {
		t.Error("the missing schema was not logged")
	}
}

// An inbox's types decide what is uploaded: a PNG watched (include) in a
// PDF-only inbox gets an error file and is never sent.
func TestImageTypesPerInbox(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("types = [\"*.pdf\"]\ninclude = [\"*.pdf\", \"*.png\"]")
	write(t, filepath.Join(e.inbox, "a.pdf"), pdf(t, 1, 1))
	png := filepath.Join(e.inbox, "shot.png")
	write(t, png, receipt(t, 1, true))
	if sum, err := e.once(cfg); err != nil || sum.Done != 1 || sum.Invalid != 1 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	if ef := readError(t, png); ef.Error.Code != "UNSUPPORTED_FILE_TYPE" || !strings.Contains(ef.Error.Message, "*.pdf") {
		t.Errorf("shot.png: %+v", ef.Error)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 1 || st.PagesCharged != 1 {
		t.Errorf("documents_created=%d pages_charged=%d, want 1 and 1", st.DocumentsCreated, st.PagesCharged)
	}
}
