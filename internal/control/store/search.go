package store

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// fieldIndex keeps in memory, for each finished file, the values of the
// fields extracted from it (vendor, invoice number, amounts, dates, line
// items), so that the list can be searched by them without reading a
// result file per request. An entry is read from the file's result once,
// and again only when the file's record changes.
type fieldIndex struct {
	mu sync.Mutex
	m  map[string]indexed // by file path
}

type indexed struct {
	stamp  string  // what the entry was read for (see stampOf)
	fields []field // nil: the result had no fields, or could not be read
}

// field is one extracted value: its label ("Vendor name") and the forms it
// is searched in (lower case: as written, and an amount or a date also as
// people type them).
type field struct {
	label, shown string
	forms        []string
}

// stampOf changes whenever a file's result can have changed.
func stampOf(f state.File) string {
	return f.Updated.UTC().Format(time.RFC3339Nano) + "|" + f.Result + "|" + f.MovedTo
}

// indexable tells whether f has a result whose fields can be indexed.
func indexable(f state.File) bool { return f.State == state.FileDone && f.Result != "" }

// lookup returns f's entry when it is current.
func (x *fieldIndex) lookup(f state.File) (indexed, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.m[f.Path]
	return e, ok && e.stamp == stampOf(f)
}

func (x *fieldIndex) put(path string, e indexed) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		x.m = map[string]indexed{}
	}
	x.m[path] = e
}

// warm reads the fields of files into the index in the background, once
// at a time: a list request answers at once, and the searches after it find
// the index filled. It ends when files are read.
func (s *Files) warm(files []state.File) {
	if !s.warming.CompareAndSwap(false, true) {
		return
	}
	files = slices.Clone(files)
	go func() {
		defer s.warming.Store(false)
		s.fill(files)
	}()
}

// fill reads the fields of files into the index.
func (s *Files) fill(files []state.File) {
	for _, f := range files {
		if _, ok := s.index.lookup(f); ok {
			continue // read meanwhile
		}
		var fields []field
		if b, _, err := s.outputOf(f); err == nil {
			fields = fieldsOf(b)
		}
		s.index.put(f.Path, indexed{stamp: stampOf(f), fields: fields})
	}
}

// match returns the first field of e containing search ("" for none).
func (e indexed) match(search string) string {
	for _, fd := range e.fields {
		for _, form := range fd.forms {
			if strings.Contains(form, search) {
				return fd.label + ": " + fd.shown
			}
		}
	}
	return ""
}

// fieldsOf reads the searchable fields of a result file's content.
func fieldsOf(b []byte) []field {
	var r struct {
		Document struct {
			Data json.RawMessage `json:"extracted_data"`
		} `json:"document"`
	}
	if json.Unmarshal(b, &r) != nil || len(r.Document.Data) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(r.Document.Data)))
	dec.UseNumber()
	var data any
	if dec.Decode(&data) != nil {
		return nil
	}
	var out []field
	// A level's own values come before those of its lists and objects, so
	// a search for an amount names the total, not a line item.
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		var nested []func()
		visit := func(label string, v any) {
			switch v := v.(type) {
			case map[string]any, []any:
				nested = append(nested, func() { walk(label, v) })
			case json.Number:
				out = append(out, field{label: label, shown: v.String(), forms: amountForms(v.String())})
			case string:
				if s := strings.TrimSpace(v); s != "" {
					out = append(out, field{label: label, shown: s, forms: append([]string{strings.ToLower(s)}, dateForms(s)...)})
				}
			}
		}
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				label := labelOf(k)
				if prefix != "" {
					label = prefix + " · " + k
				}
				visit(label, v[k])
			}
		case []any:
			for _, item := range v {
				visit(prefix, item)
			}
		default:
			visit(prefix, v)
		}
		for _, n := range nested {
			n()
		}
	}
	walk("", data)
	return out
}

func labelOf(k string) string {
	s := strings.ReplaceAll(k, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// amountForms are the ways an amount is typed: 1250.75, 1,250.75, 1250,75,
// 1.250,75 (and 1250.5 also as 1250.50).
func amountForms(lit string) []string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return []string{lit}
	}
	forms := []string{lit}
	whole, frac := strconv.FormatFloat(f, 'f', -1, 64), ""
	if i := strings.IndexByte(whole, '.'); i >= 0 {
		whole, frac = whole[:i], whole[i+1:]
	}
	if len(frac) == 1 {
		frac += "0"
	}
	grouped := group(whole)
	for _, sep := range [][2]string{{".", ","}, {",", "."}} {
		dec, thou := sep[0], sep[1]
		g := strings.ReplaceAll(grouped, ",", thou)
		if frac == "" {
			forms = append(forms, g)
			continue
		}
		forms = append(forms, whole+dec+frac, g+dec+frac)
	}
	return forms
}

// group puts a comma between thousands of a whole number ("-1234" → "-1,234").
func group(n string) string {
	neg := strings.HasPrefix(n, "-")
	n = strings.TrimPrefix(n, "-")
	var b strings.Builder
	for i, c := range n {
		if i > 0 && (len(n)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var isoDate = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})`)

// dateForms are other ways an ISO date (2026-03-14) is typed: 14.03.2026,
// 14/03/2026, 03/14/2026.
func dateForms(s string) []string {
	m := isoDate.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	y, mo, d := m[1], m[2], m[3]
	return []string{fmt.Sprintf("%s.%s.%s", d, mo, y), fmt.Sprintf("%s/%s/%s", d, mo, y), fmt.Sprintf("%s/%s/%s", mo, d, y)}
}

// size is the number of files indexed.
func (x *fieldIndex) size() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.m)
}
