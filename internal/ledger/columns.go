package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// A column of extracted data, taken from the parser's schema.
type column struct {
	name  string   // header: dotted path for nested objects ("address.city")
	path  []string // keys into extracted_data
	items []column // for an array of objects: the columns of one item
	list  bool     // an array (of objects when items is set, else of values)
}

// member is one property of a JSON object, in document order.
type member struct {
	key string
	val json.RawMessage
}

// members decodes a JSON object keeping the order of its keys (the order a
// schema lists its properties is the order its columns appear in).
func members(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{k, v})
	}
	return out, nil
}

// schemaNode is the part of a JSON Schema node the columns need.
type schemaNode struct {
	Type       json.RawMessage `json:"type"`
	Properties json.RawMessage `json:"properties"`
	Items      json.RawMessage `json:"items"`
}

// typeOf reads "type", which may be a string or a list such as
// ["number","null"]; it returns the first type that is not "null".
func (n schemaNode) typeOf() string {
	var s string
	if json.Unmarshal(n.Type, &s) == nil {
		return s
	}
	var l []string
	_ = json.Unmarshal(n.Type, &l)
	for _, t := range l {
		if t != "null" {
			return t
		}
	}
	return ""
}

// schemaColumns flattens a parser's JSON Schema into columns: nested
// objects become dotted names, arrays one column each. It returns nil when
// the schema lists no properties.
func schemaColumns(schema json.RawMessage, prefix []string) []column {
	var n schemaNode
	if len(schema) == 0 || json.Unmarshal(schema, &n) != nil || len(n.Properties) == 0 {
		return nil
	}
	props, err := members(n.Properties)
	if err != nil {
		return nil
	}
	var cols []column
	for _, p := range props {
		path := append(slices.Clone(prefix), p.key)
		var c schemaNode
		_ = json.Unmarshal(p.val, &c)
		switch c.typeOf() {
		case "object":
			if sub := schemaColumns(p.val, path); len(sub) > 0 {
				cols = append(cols, sub...)
				continue
			}
		case "array":
			col := column{name: strings.Join(path, "."), path: path, list: true}
			col.items = schemaColumns(c.Items, nil)
			cols = append(cols, col)
			continue
		}
		cols = append(cols, column{name: strings.Join(path, "."), path: path})
	}
	return cols
}

// fieldColumns are the columns of a parser whose schema lists no
// properties: its field names, sorted.
func fieldColumns(names []string) []column {
	names = slices.Clone(names)
	sort.Strings(names)
	var cols []column
	for _, n := range names {
		cols = append(cols, column{name: n, path: []string{n}})
	}
	return cols
}

// extraColumns covers top-level keys of the data that no column reads, so
// nothing extracted is left out of the ledger. They come after the schema's
// columns, sorted.
func extraColumns(cols []column, data []map[string]any) []column {
	known := map[string]bool{}
	for _, c := range cols {
		known[c.path[0]] = true
	}
	seen := map[string]bool{}
	var extra []string
	for _, d := range data {
		for k := range d {
			if !known[k] && !seen[k] {
				seen[k] = true
				extra = append(extra, k)
			}
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		c := column{name: k, path: []string{k}}
		for _, d := range data {
			if arr, ok := d[k].([]any); ok {
				c.list = true
				c.items = objectItemColumns(arr)
				break
			}
		}
		cols = append(cols, c)
	}
	return cols
}

// objectItemColumns infers item columns for an array of objects that the
// schema does not describe.
func objectItemColumns(arr []any) []column {
	var keys []string
	seen := map[string]bool{}
	for _, it := range arr {
		m, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return fieldColumns(keys)
}

// lookup follows path into decoded JSON data.
func lookup(data map[string]any, path []string) any {
	var v any = data
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
