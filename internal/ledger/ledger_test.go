package ledger_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
)

// schema is an invoice parser's schema with a nested object and line items.
var schema = json.RawMessage(`{"type":"object","properties":{
	"vendor_name":{"type":"string"},
	"invoice_number":{"type":"string"},
	"invoice_date":{"type":"string","format":"date"},
	"total_amount":{"type":["number","null"]},
	"vendor_address":{"type":"object","properties":{"city":{"type":"string"},"country":{"type":"string"}}},
	"line_items":{"type":"array","items":{"type":"object","properties":{"description":{"type":"string"},"amount":{"type":"number"}}}},
	"tags":{"type":"array","items":{"type":"string"}}
}}`)

var wantHeader = []string{"file", "folder", "vendor_name", "invoice_number", "invoice_date", "total_amount",
	"vendor_address.city", "vendor_address.country", "line_items", "tags",
	"pages", "credits", "processed_at", "document_id", "sha256"}

type doc struct {
	file, docID, vendor string
	total               float64
	dupOf               string
}

// result is a <file>.json as ppsync writes it.
func result(t testing.TB, d doc) []byte {
	t.Helper()
	data := map[string]any{
		"vendor_name": d.vendor, "invoice_number": "INV-" + d.docID, "invoice_date": "2026-06-01", "total_amount": d.total,
		"vendor_address": map[string]any{"city": "Zürich", "country": "CH"},
		"line_items":     []any{map[string]any{"description": "Cloud Servers", "amount": 1000}, map[string]any{"description": "=HYPERLINK(\"x\")", "amount": d.total - 1000}},
		"tags":           []any{"a", "b"},
	}
	b, err := json.Marshal(map[string]any{
		"document": map[string]any{"document_id": d.docID, "status": "completed", "page_count": 2, "credits_used": 2,
			"extracted_data": data, "updated_at": "2026-06-20T10:00:42.000Z", "filename": filepath.Base(d.file)},
		"source":       map[string]any{"path": d.file, "sha256": fmt.Sprintf("%064x", len(d.docID)), "size": 10},
		"duplicate_of": d.dupOf,
		"written_at":   "2026-06-20T10:00:43Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func row(t testing.TB, inbox string, d doc) ledger.Row {
	t.Helper()
	r, ok := ledger.RowFromResult(result(t, d), inbox)
	if !ok {
		t.Fatalf("not a result: %+v", d)
	}
	return r
}

// readCSV checks the BOM and returns the records.
func readCSV(t testing.TB, path string, sep rune) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatalf("%s has no UTF-8 BOM", path)
	}
	r := csv.NewReader(bytes.NewReader(b[3:]))
	r.Comma = sep
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	return recs
}

func newLedger(t testing.TB, o ledger.Options) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestColumnsAndFormats(t *testing.T) {
	inbox := t.TempDir()
	for _, tc := range []struct {
		name   string
		format ledger.Format
		total  string
		items  string
	}{
		{"default", ledger.Format{}, "1250.75", "Cloud Servers / 1000 | =HYPERLINK(\"x\") / 250.75"},
		{"european", ledger.Format{Separator: ';', Decimal: ','}, "1250,75", "Cloud Servers / 1000 | =HYPERLINK(\"x\") / 250,75"},
		{"tab", ledger.Format{Separator: '\t'}, "1250.75", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.csv")
			l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema, Format: tc.format})
			l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "2026", "a.pdf"), docID: "doc_1", vendor: "Acme; \"Corp\"", total: 1250.75}))
			l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "b.pdf"), docID: "doc_2", vendor: "=SUM(A1)", total: 1300}))
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			sep := tc.format.Separator
			if sep == 0 {
				sep = ','
			}
			recs := readCSV(t, path, sep)
			if !slices.Equal(recs[0], wantHeader) {
				t.Fatalf("header = %q\nwant     %q", recs[0], wantHeader)
			}
			if len(recs) != 3 {
				t.Fatalf("%d rows, want a header and 2", len(recs))
			}
			// sorted by folder: "" (b.pdf) before "2026" (a.pdf)
			b, a := recs[1], recs[2]
			if b[0] != "b.pdf" || b[1] != "" || a[0] != "a.pdf" || a[1] != "2026" {
				t.Fatalf("rows = %q", recs[1:])
			}
			col := func(r []string, name string) string { return r[slices.Index(wantHeader, name)] }
			if col(a, "vendor_name") != "Acme; \"Corp\"" || col(a, "total_amount") != tc.total || col(a, "vendor_address.city") != "Zürich" ||
				col(a, "pages") != "2" || col(a, "credits") != "2" || col(a, "document_id") != "doc_1" ||
				col(a, "processed_at") != "2026-06-20 10:00:42" || col(a, "tags") != "a | b" || len(col(a, "sha256")) != 64 {
				t.Errorf("row = %q", a)
			}
			if col(b, "vendor_name") != "'=SUM(A1)" {
				t.Errorf("text that a spreadsheet would run as a formula: %q", col(b, "vendor_name"))
			}
			if tc.items != "" && col(a, "line_items") != tc.items {
				t.Errorf("line_items = %q, want %q", col(a, "line_items"), tc.items)
			}
		})
	}
}

func TestFormatValidation(t *testing.T) {
	for _, f := range []ledger.Format{{Separator: ',', Decimal: ','}, {Decimal: ';'}, {Separator: '"'}, {Separator: '\n'}} {
		if _, err := ledger.New(ledger.Options{Path: filepath.Join(t.TempDir(), "l.csv"), Format: f}); err == nil {
			t.Errorf("format %q accepted", f)
		}
	}
	if _, err := ledger.New(ledger.Options{Path: filepath.Join(t.TempDir(), "l.ods")}); err == nil || !strings.Contains(err.Error(), ".csv or .xlsx") {
		t.Errorf("ods: %v", err)
	}
}

func TestReprocessReplacesRowAndDuplicatesShareOne(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema})
	a := filepath.Join(inbox, "a.pdf")
	l.Put(row(t, inbox, doc{file: a, docID: "doc_1", vendor: "Old", total: 1001}))
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "b.pdf"), docID: "doc_2", vendor: "B", total: 1002}))
	// The same content dropped again under another name: same document.
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "a copy.pdf"), docID: "doc_1", vendor: "Old", total: 1001, dupOf: a}))
	// a.pdf replaced by a new version: a new document for the same file.
	l.Put(row(t, inbox, doc{file: a, docID: "doc_3", vendor: "New", total: 1003}))
	// A file whose result is gone (it failed on a later run).
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "c.pdf"), docID: "doc_4", vendor: "C", total: 1004}))
	l.Remove(filepath.Join(inbox, "c.pdf"))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readCSV(t, path, ',')[1:] {
		got[r[0]] = r[slices.Index(wantHeader, "document_id")] + " " + r[slices.Index(wantHeader, "vendor_name")]
	}
	want := map[string]string{"a.pdf": "doc_3 New", "b.pdf": "doc_2 B", "a copy.pdf": "doc_1 Old"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	if l.Documents() != 3 {
		t.Errorf("Documents = %d", l.Documents())
	}
}

func TestDuplicateListedUnderSubmittedFile(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema})
	a := filepath.Join(inbox, "z-original.pdf")
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "a-copy.pdf"), docID: "doc_1", vendor: "V", total: 1, dupOf: a}))
	l.Put(row(t, inbox, doc{file: a, docID: "doc_1", vendor: "V", total: 1}))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, path, ',')
	if len(recs) != 2 || recs[1][0] != "z-original.pdf" {
		t.Fatalf("rows = %q, want one, for the submitted file", recs[1:])
	}
}

// writeResults lays out result files as ppsync writes them, plus the
// clutter a results tree holds.
func writeResults(t testing.TB, inbox string, n int) {
	t.Helper()
	for i := range n {
		dir := inbox
		if i%3 == 0 {
			dir = filepath.Join(inbox, "sub", "deeper")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("inv-%03d.pdf", i))
		if err := os.WriteFile(f+".json", result(t, doc{file: f, docID: fmt.Sprintf("doc_%d", i), vendor: "V", total: float64(1000+i) + 0.25}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		"bad.pdf.error.json":  `{"error":{"code":"NOT_A_PDF","message":"x"},"source":{"path":"x"}}`,
		"notes.json":          `{"some":"other json"}`,
		"broken.pdf.json":     `{"document": {"document_id": "doc_x", `,
		"failed.pdf.json":     `{"document":{"document_id":"doc_f","status":"failed"},"source":{"path":"/x/failed.pdf"}}`,
		".ppsync-abcdef.tmp":  "half a file",
		"sub/ignored.pdf.txt": "text",
	} {
		p := filepath.Join(inbox, filepath.FromSlash(name))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRebuildFromResultFiles(t *testing.T) {
	inbox := t.TempDir()
	writeResults(t, inbox, 10)
	path := filepath.Join(t.TempDir(), "out", "ledger.csv")
	n, err := ledger.Rebuild(context.Background(), ledger.Options{Path: path, InboxRoot: inbox, Schema: schema}, inbox)
	if err != nil || n != 10 {
		t.Fatalf("Rebuild = %d, %v; want 10 documents", n, err)
	}
	recs := readCSV(t, path, ',')
	if len(recs) != 11 {
		t.Fatalf("%d records, want header + 10", len(recs))
	}
	sub := 0
	for _, r := range recs[1:] {
		if r[1] == filepath.Join("sub", "deeper") {
			sub++
		}
	}
	if sub != 4 {
		t.Errorf("%d rows in sub/deeper, want 4", sub)
	}
	if _, err := ledger.Rebuild(context.Background(), ledger.Options{Path: path, InboxRoot: inbox}, filepath.Join(inbox, "missing")); err == nil {
		t.Error("an unreadable results folder must be an error, not an empty ledger")
	}
	if after := readCSV(t, path, ','); len(after) != 11 {
		t.Errorf("a failed rebuild changed the ledger: %d records", len(after))
	}
}

func TestDebouncedWrite(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema, Delay: 20 * time.Millisecond})
	for i := range 5 {
		l.Put(row(t, inbox, doc{file: filepath.Join(inbox, fmt.Sprintf("%d.pdf", i)), docID: fmt.Sprintf("doc_%d", i), vendor: "V", total: 1}))
	}
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte("\r\n")) == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ledger was not written after the debounce delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A write that fails between the temp file and the rename (a crash there, or
// a full disk) leaves the previous ledger whole, and no temp file behind.
func TestFailedWriteKeepsPreviousLedger(t *testing.T) {
	inbox := t.TempDir()
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema})
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "a.pdf"), docID: "doc_1", vendor: "A", total: 1}))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	l.SetBeforeRename(func() error { return errors.New("simulated crash") })
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "b.pdf"), docID: "doc_2", vendor: "B", total: 2}))
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("Flush = %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed write changed the ledger")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	l.SetBeforeRename(nil)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if recs := readCSV(t, path, ','); len(recs) != 3 {
		t.Fatalf("after recovery %d records, want 3", len(recs))
	}
}

const crashEnv = "PPSYNC_LEDGER_CRASH_CHILD"

// TestKilledMidWrite kills a real process between the temp file's fsync and
// the rename, in the middle of a batch of results: the ledger on disk is
// the previous one, whole, and a rebuild at the next start gives exactly
// one row per document.
func TestKilledMidWrite(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidWrite$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Success() {
		t.Fatalf("the child was not killed: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "ledger.csv")
	recs := readCSV(t, path, ',')
	if len(recs) != 1+20 {
		t.Fatalf("ledger after the kill has %d records, want the previous write's header + 20", len(recs))
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".ppsync-*.tmp"))
	if len(leftovers) != 1 {
		t.Fatalf("temp files after the kill: %v (want the one the kill interrupted)", leftovers)
	}
	// Next start: the ledger is rebuilt from the 50 result files.
	n, err := ledger.Rebuild(context.Background(), ledger.Options{Path: path, InboxRoot: inbox, Schema: schema}, inbox)
	if err != nil || n != 50 {
		t.Fatalf("Rebuild = %d, %v", n, err)
	}
	recs = readCSV(t, path, ',')
	ids := map[string]int{}
	for _, r := range recs[1:] {
		ids[r[slices.Index(wantHeader, "document_id")]]++
	}
	if len(recs) != 51 || len(ids) != 50 {
		t.Fatalf("%d records, %d distinct documents; want 50 rows, one per document", len(recs)-1, len(ids))
	}
}

// crashChild writes 50 results, flushing the ledger after the first 20,
// and is killed during the next ledger write.
func crashChild(t *testing.T, dir string) {
	inbox := filepath.Join(dir, "inbox")
	l, err := ledger.New(ledger.Options{Path: filepath.Join(dir, "ledger.csv"), InboxRoot: inbox, Schema: schema, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		f := filepath.Join(inbox, fmt.Sprintf("inv-%02d.pdf", i))
		b := result(t, doc{file: f, docID: fmt.Sprintf("doc_%d", i), vendor: "V", total: float64(i)})
		if err := os.WriteFile(f+".json", b, 0o644); err != nil {
			t.Fatal(err)
		}
		l.PutResult(b)
		if i == 19 {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			l.SetBeforeRename(func() error {
				p, _ := os.FindProcess(os.Getpid())
				_ = p.Kill()
				select {}
			})
		}
	}
	_ = l.Flush()
	t.Fatal("not killed")
}

func TestXLSX(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.xlsx")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema, Format: ledger.Format{Separator: ';', Decimal: ','}})
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "a.pdf"), docID: "doc_1", vendor: "=cmd|' /C calc'!A0", total: 1250.75}))
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "b.pdf"), docID: "doc_2", vendor: "B", total: 1300}))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, []string{"Documents", "line_items"}) {
		t.Fatalf("sheets = %v", got)
	}
	rows, err := x.GetRows("Documents")
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("Documents = %q, %v", rows, err)
	}
	if rows[1][2] != "=cmd|' /C calc'!A0" {
		t.Errorf("vendor = %q", rows[1][2])
	}
	if f, _ := x.GetCellFormula("Documents", "C2"); f != "" {
		t.Errorf("text from a document became a formula: %q", f)
	}
	cell, _ := excelize.CoordinatesToCellName(slices.Index(wantHeader, "total_amount")+1, 2)
	if typ, _ := x.GetCellType("Documents", cell); typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
		t.Errorf("total_amount cell type %v, want a number", typ)
	}
	if v, _ := x.GetCellValue("Documents", cell); v != "1250.75" {
		t.Errorf("total_amount = %q", v)
	}
	items, err := x.GetRows("line_items")
	if err != nil || len(items) != 5 || !slices.Equal(items[0], []string{"file", "folder", "document_id", "item", "description", "amount"}) {
		t.Fatalf("line_items = %q, %v", items, err)
	}
	if items[1][0] != "a.pdf" || items[1][3] != "1" || items[1][4] != "Cloud Servers" || items[2][3] != "2" {
		t.Errorf("line_items = %q", items)
	}
}

// Without schema properties the columns are the parser's field names; data
// keys that no column covers are appended, so nothing is dropped.
func TestColumnsWithoutSchemaAndExtraKeys(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: json.RawMessage(`{}`), Fields: []string{"vendor_name", "invoice_number"}})
	l.Put(row(t, inbox, doc{file: filepath.Join(inbox, "a.pdf"), docID: "doc_1", vendor: "A", total: 1}))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, path, ',')
	want := []string{"file", "folder", "invoice_number", "vendor_name", "invoice_date", "line_items", "tags", "total_amount", "vendor_address",
		"pages", "credits", "processed_at", "document_id", "sha256"}
	if !slices.Equal(recs[0], want) {
		t.Fatalf("header = %q\nwant     %q", recs[0], want)
	}
	r := recs[1]
	if r[slices.Index(want, "vendor_address")] != `{"city":"Zürich","country":"CH"}` || r[slices.Index(want, "line_items")] != `1000 / Cloud Servers | -999 / =HYPERLINK("x")` {
		t.Errorf("row = %q", r)
	}
}

// A name that is not valid UTF-8 keys its row by its real bytes (as finish
// names it when an error file replaces the result), and shows as U+FFFD in
// the spreadsheet, which holds UTF-8 only.
func TestNonUTF8NameKeysItsRow(t *testing.T) {
	inbox := t.TempDir()
	path := filepath.Join(t.TempDir(), "ledger.csv")
	l := newLedger(t, ledger.Options{Path: path, InboxRoot: inbox, Schema: schema})
	bad := filepath.Join(inbox, "rechnung-\xff\xfe.pdf")
	b, err := json.Marshal(map[string]any{
		"document": map[string]any{"document_id": "doc_9", "status": "completed", "page_count": 1, "credits_used": 1,
			"extracted_data": map[string]any{"vendor_name": "V"}, "filename": "rechnung-\ufffd\ufffd.pdf"},
		"source": results.Source{Path: bad, SHA256: strings.Repeat("a", 64), Size: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ledger.RowFromResult(b, inbox)
	if !ok || r.Source != bad {
		t.Fatalf("row source = %q (ok %v), want the real name %q", r.Source, ok, bad)
	}
	l.Put(r)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, path, ',')
	if len(recs) != 2 || recs[1][0] != "rechnung-\ufffd.pdf" {
		t.Fatalf("rows = %q", recs)
	}
	l.Remove(bad)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if recs := readCSV(t, path, ','); len(recs) != 1 {
		t.Fatalf("after Remove of the real name: rows = %q", recs)
	}
}
