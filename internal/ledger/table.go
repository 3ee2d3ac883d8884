package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

// Row is one processed file with its document's data.
type Row struct {
	// Source is the path of the file as it was dropped into the inbox.
	Source string
	// Folder is the file's folder relative to the inbox ("" at the top).
	Folder     string
	SHA256     string
	DocumentID string
	Pages      int
	Credits    int
	// When is when the document was processed.
	When time.Time
	// Data is the document's extracted_data.
	Data json.RawMessage
	// DuplicateOf names the file whose submission produced this document
	// when this file had the same content.
	DuplicateOf string
	// Review is "to review" for a result held for review (review.go).
	Review string
}

// resultFile is the part of a <file>.json result the ledger reads.
type resultFile struct {
	Document *struct {
		DocumentID    string          `json:"document_id"`
		Status        string          `json:"status"`
		PageCount     int             `json:"page_count"`
		CreditsUsed   int             `json:"credits_used"`
		ExtractedData json.RawMessage `json:"extracted_data"`
		UpdatedAt     string          `json:"updated_at"`
	} `json:"document"`
	// Source reads path_bytes too, so a name that is not valid UTF-8
	// keys its row by the file's real name.
	Source      *results.Source `json:"source"`
	DuplicateOf string          `json:"duplicate_of"`
	WrittenAt   string          `json:"written_at"`
	Review      *heldReview     `json:"review"`
}

// RowFromResult reads a result file's content into a row. inboxRoot is the
// inbox the source file belongs to (for the folder column). It returns false
// for JSON that is not a ppsync result of a completed document.
func RowFromResult(b []byte, inboxRoot string) (Row, bool) {
	var r resultFile
	if json.Unmarshal(b, &r) != nil || r.Document == nil || r.Source == nil || r.Source.Path == "" {
		return Row{}, false
	}
	if r.Document.Status != "" && r.Document.Status != "completed" {
		return Row{}, false
	}
	row := Row{
		Source: r.Source.Path, SHA256: r.Source.SHA256, DocumentID: r.Document.DocumentID,
		Pages: r.Document.PageCount, Credits: r.Document.CreditsUsed, Data: r.Document.ExtractedData,
		DuplicateOf: r.DuplicateOf,
	}
	if r.Review != nil {
		row.Review = r.Review.Status
	}
	for _, s := range []string{r.Document.UpdatedAt, r.WrittenAt} {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			row.When = t.UTC()
			break
		}
	}
	if rel, err := filepath.Rel(inboxRoot, filepath.Dir(r.Source.Path)); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		row.Folder = rel
	}
	return row, true
}

// Format is how numbers and separators are written into a CSV.
type Format struct {
	// Separator between fields: ',' (default), ';' (European Excel) or '\t'.
	Separator rune
	// Decimal mark of numbers: '.' (default) or ','.
	Decimal rune
}

func (f Format) withDefaults() Format {
	if f.Separator == 0 {
		f.Separator = ','
	}
	if f.Decimal == 0 {
		f.Decimal = '.'
	}
	return f
}

// Validate says why a format cannot be written unambiguously.
func (f Format) Validate() error {
	f = f.withDefaults()
	switch {
	case f.Separator == '"' || f.Separator == '\r' || f.Separator == '\n' || f.Separator == 0xFFFD:
		return fmt.Errorf("separator %q cannot be used: use \",\", \";\" or a tab", f.Separator)
	case f.Decimal != '.' && f.Decimal != ',':
		return fmt.Errorf("decimal mark %q: use \".\" or \",\"", f.Decimal)
	case f.Separator == f.Decimal:
		return fmt.Errorf("the separator and the decimal mark are both %q: with a \",\" decimal mark use \";\" as the separator", f.Separator)
	}
	return nil
}

// Fixed columns, around the parser's own.
var (
	headFixed = []string{"file", "folder"}
	tailFixed = []string{"pages", "credits", "processed_at", "document_id", "sha256"}
)

// table is the ledger's content, independent of the file format.
type table struct {
	header []string
	rows   [][]any // string, json.Number, bool or nil per cell
	// lists are the sheets of arrays of objects (line items), one per
	// column that holds them.
	lists []listTable
}

type listTable struct {
	name   string
	header []string
	rows   [][]any
}

// build renders rows into a table: one row per document (a document shared
// by duplicate files is listed once, under the file that was submitted),
// sorted by folder and file name.
func build(rows []Row, schema json.RawMessage, fields []string, decimal rune) table {
	docs := map[string]Row{}
	for _, r := range rows {
		key := r.DocumentID
		if key == "" {
			key = "sha256:" + r.SHA256
		}
		if cur, ok := docs[key]; ok && !better(r, cur) {
			continue
		}
		docs[key] = r
	}
	keep := make([]Row, 0, len(docs))
	for _, r := range docs {
		keep = append(keep, r)
	}
	sort.Slice(keep, func(i, j int) bool {
		a, b := keep[i], keep[j]
		if a.Folder != b.Folder {
			return a.Folder < b.Folder
		}
		if filepath.Base(a.Source) != filepath.Base(b.Source) {
			return filepath.Base(a.Source) < filepath.Base(b.Source)
		}
		return a.Source < b.Source
	})
	data := make([]map[string]any, len(keep))
	for i, r := range keep {
		data[i] = decode(r.Data)
	}
	cols := schemaColumns(schema, nil)
	if len(cols) == 0 {
		cols = fieldColumns(fields)
	}
	cols = extraColumns(cols, data)

	var t table
	t.header = append(t.header, headFixed...)
	for _, c := range cols {
		t.header = append(t.header, c.name)
	}
	t.header = append(t.header, tailFixed...)
	marked := reviewColumn(keep)
	if marked {
		t.header = append(t.header, ReviewColumn)
	}
	for _, c := range cols {
		if c.list && len(c.items) > 0 {
			lt := listTable{name: c.name, header: []string{"file", "folder", "document_id", "item"}}
			for _, ic := range c.items {
				lt.header = append(lt.header, ic.name)
			}
			t.lists = append(t.lists, lt)
		}
	}
	for i, r := range keep {
		line := []any{shown(filepath.Base(r.Source)), shown(r.Folder)}
		li := 0
		for _, c := range cols {
			v := lookup(data[i], c.path)
			line = append(line, cellValue(v, c, decimal))
			if c.list && len(c.items) > 0 {
				arr, _ := v.([]any)
				for n, it := range arr {
					m, _ := it.(map[string]any)
					item := []any{shown(filepath.Base(r.Source)), shown(r.Folder), r.DocumentID, json.Number(strconv.Itoa(n + 1))}
					for _, ic := range c.items {
						item = append(item, cellValue(lookup(m, ic.path), ic, decimal))
					}
					t.lists[li].rows = append(t.lists[li].rows, item)
				}
				li++
			}
		}
		when := ""
		if !r.When.IsZero() {
			when = r.When.UTC().Format("2006-01-02 15:04:05")
		}
		line = append(line, json.Number(strconv.Itoa(r.Pages)), json.Number(strconv.Itoa(r.Credits)), when, r.DocumentID, r.SHA256)
		if marked {
			line = append(line, r.Review)
		}
		t.rows = append(t.rows, line)
	}
	return t
}

// better reports whether row a should stand for a document rather than b:
// the submitted file over its duplicates, then the newer, then by path.
func better(a, b Row) bool {
	if (a.DuplicateOf == "") != (b.DuplicateOf == "") {
		return a.DuplicateOf == ""
	}
	if !a.When.Equal(b.When) {
		return a.When.After(b.When)
	}
	return a.Source < b.Source
}

func decode(raw json.RawMessage) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return map[string]any{}
	}
	return m
}

// cellValue is what one cell holds: a scalar as it is, an array joined into
// text (items " | ", an item's values " / "), an object as compact JSON.
func cellValue(v any, c column, decimal rune) any {
	switch x := v.(type) {
	case nil, string, json.Number, bool:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, it := range x {
			if m, ok := it.(map[string]any); ok && len(c.items) > 0 {
				var vals []string
				for _, ic := range c.items {
					if s := text(lookup(m, ic.path), decimal); s != "" {
						vals = append(vals, s)
					}
				}
				parts = append(parts, strings.Join(vals, " / "))
				continue
			}
			parts = append(parts, text(it, decimal))
		}
		return strings.Join(parts, " | ")
	}
	return text(v, decimal)
}

// text renders a value inside a joined cell, numbers with the ledger's
// decimal mark.
func text(v any, decimal rune) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return number(x, decimal)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// number writes a JSON number in plain decimal notation with the given
// decimal mark ("1250.75" → "1250,75"); spreadsheets read exponents badly.
func number(n json.Number, decimal rune) string {
	s := n.String()
	if strings.ContainsAny(s, "eE") {
		if f, err := n.Float64(); err == nil {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	if decimal == ',' {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// shown is a name as a spreadsheet cell: bytes that are not UTF-8 (a
// name the OS holds but no spreadsheet can) become U+FFFD.
func shown(name string) string { return strings.ToValidUTF8(name, "\uFFFD") }
