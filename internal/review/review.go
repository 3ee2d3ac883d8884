// Package review holds the rules that keep an extraction from being
// delivered until a person has checked it: low confidence, required fields
// missing, line items that do not add up to the total, and probable
// duplicates of a document already delivered. It is pure: it reads an API
// document and answers why it is held; where held results are kept and how
// a decision is written belong to the finish stage.
package review

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The rules a result can be held by.
const (
	RuleConfidence = "low_confidence"
	RuleMissing    = "missing_field"
	RuleSums       = "sums"
	RuleDuplicate  = "duplicate"
)

// DefaultTolerance is how far the line items may be from the total when an
// inbox sets review_sums without a tolerance.
const DefaultTolerance = 0.01

// Rules are one inbox's review settings.
type Rules struct {
	// Below holds a result whose confidence is under it (0: off). A result
	// without a confidence is held too when Below is set.
	Below float64
	// Require lists fields of extracted_data that must be present and not
	// empty.
	Require []string
	// Sums holds a result whose line items do not add up to the total
	// within Tolerance.
	Sums      bool
	Tolerance float64
	// Duplicates holds a probable duplicate of a document already done.
	Duplicates bool
}

// Enabled reports whether any rule is on.
func (r Rules) Enabled() bool {
	return r.Below > 0 || len(r.Require) > 0 || r.Sums || r.Duplicates
}

// Reason is one rule that held a result.
type Reason struct {
	Rule string `json:"rule"`
	// Field is the field the rule is about ("" for confidence).
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// DuplicateOf is the file whose result this one probably repeats.
	DuplicateOf string `json:"duplicate_of,omitempty"`
}

// Doc is the part of an API document the rules read.
type Doc struct {
	Confidence *float64
	Data       map[string]any
}

// Parse reads an API document object (as the result file holds it).
func Parse(doc json.RawMessage) (Doc, error) {
	var d struct {
		Confidence    *float64        `json:"confidence"`
		ExtractedData json.RawMessage `json:"extracted_data"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return Doc{}, fmt.Errorf("read the API's document: %w", err)
	}
	out := Doc{Confidence: d.Confidence}
	if len(d.ExtractedData) > 0 && string(d.ExtractedData) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(d.ExtractedData)))
		dec.UseNumber()
		if err := dec.Decode(&out.Data); err != nil {
			return Doc{}, fmt.Errorf("read the document's extracted_data: %w", err)
		}
	}
	if out.Data == nil {
		out.Data = map[string]any{}
	}
	return out, nil
}

// Check applies r to d and returns why d is held (nil: deliver it).
// duplicateOf is the file whose delivered result d probably repeats, ""
// when none (see Index.Match); it counts only when r.Duplicates is on.
func Check(r Rules, d Doc, duplicateOf string) []Reason {
	var out []Reason
	if r.Below > 0 {
		switch {
		case d.Confidence == nil:
			out = append(out, Reason{Rule: RuleConfidence, Message: fmt.Sprintf("the API gave no confidence (review_below = %g)", r.Below)})
		case *d.Confidence < r.Below:
			out = append(out, Reason{Rule: RuleConfidence, Message: fmt.Sprintf("confidence %g is below %g", *d.Confidence, r.Below)})
		}
	}
	for _, f := range r.Require {
		if empty(d.Data[f]) {
			out = append(out, Reason{Rule: RuleMissing, Field: f, Message: fmt.Sprintf("%s is missing", f)})
		}
	}
	if r.Sums {
		if msg, bad := sums(d.Data, r.Tolerance); bad {
			out = append(out, Reason{Rule: RuleSums, Field: "total_amount", Message: msg})
		}
	}
	if r.Duplicates && duplicateOf != "" {
		out = append(out, Reason{Rule: RuleDuplicate, Field: "invoice_number", DuplicateOf: duplicateOf,
			Message: fmt.Sprintf("probably a duplicate of %s (same vendor and invoice number, or same vendor, date and total)", duplicateOf)})
	}
	return out
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// sums compares the line items' amounts with the total. Without line
// items or a total there is nothing to compare.
func sums(data map[string]any, tol float64) (string, bool) {
	if tol <= 0 {
		tol = DefaultTolerance
	}
	total, ok := Number(data["total_amount"])
	items, _ := data["line_items"].([]any)
	if !ok || len(items) == 0 {
		return "", false
	}
	sum := 0.0
	for i, it := range items {
		m, _ := it.(map[string]any)
		v, ok := Number(m["amount"])
		if !ok {
			v, ok = Number(m["total"])
		}
		if !ok {
			return fmt.Sprintf("line item %d has no amount, so the items cannot be checked against the total", i+1), true
		}
		sum += v
	}
	if math.Abs(sum-total) > tol+1e-9 {
		return fmt.Sprintf("the line items add up to %.2f, the total is %.2f (off by %.2f, tolerance %g)", sum, total, math.Abs(sum-total), tol), true
	}
	return "", false
}

// Number reads a JSON number, or a string holding one ("1,250.75" too).
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(x), ",", ""), 64)
		return f, err == nil
	}
	return 0, false
}

// Facts identify an invoice for the duplicate rule, normalised.
type Facts struct {
	Vendor, Number, Date, Total string
}

var spaces = regexp.MustCompile(`\s+`)

// FactsOf reads the identifying fields of extracted_data.
func FactsOf(data map[string]any) Facts {
	str := func(k string) string {
		switch x := data[k].(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return ""
	}
	f := Facts{
		Vendor: strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(str("vendor_name"), " "))),
		Number: strings.ToUpper(strings.Join(strings.Fields(str("invoice_number")), "")),
		Date:   strings.TrimSpace(str("invoice_date")),
	}
	if t, ok := Number(data["total_amount"]); ok {
		f.Total = strconv.FormatFloat(t, 'f', 2, 64)
	}
	return f
}

// Keys are the duplicate keys of f: vendor + number, and vendor + date +
// total; a key needs every one of its parts.
func (f Facts) Keys() []string {
	var k []string
	if f.Vendor != "" && f.Number != "" {
		k = append(k, "n\x00"+f.Vendor+"\x00"+f.Number)
	}
	if f.Vendor != "" && f.Date != "" && f.Total != "" {
		k = append(k, "d\x00"+f.Vendor+"\x00"+f.Date+"\x00"+f.Total)
	}
	return k
}

// Correct returns data with the fields in set replaced, and the values
// they had (absent fields as nil). A value is read as the field's type: a
// number field takes a number, a string field keeps the text as it is
// typed, a list or object takes JSON; a field that was missing or null
// takes a number when its name ends in "amount", else the text. "null"
// clears any field.
func Correct(data map[string]any, set map[string]string) (map[string]any, map[string]any, error) {
	out := make(map[string]any, len(data)+len(set))
	for k, v := range data {
		out[k] = v
	}
	orig := map[string]any{}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		text := set[k]
		if strings.TrimSpace(k) == "" {
			return nil, nil, fmt.Errorf("a correction names no field (use field=value)")
		}
		old, had := data[k]
		orig[k] = old
		if !had {
			orig[k] = nil
		}
		if strings.TrimSpace(text) == "null" {
			out[k] = nil
			continue
		}
		switch old.(type) {
		case json.Number, float64, int:
			f, ok := Number(text)
			if !ok {
				return nil, nil, fmt.Errorf("%s is a number; %q is not one (write it like 1250.75)", k, text)
			}
			out[k] = json.Number(strconv.FormatFloat(f, 'f', -1, 64))
		case string:
			out[k] = text
		case bool:
			b, err := strconv.ParseBool(strings.TrimSpace(text))
			if err != nil {
				return nil, nil, fmt.Errorf("%s is true or false; %q is neither", k, text)
			}
			out[k] = b
		case []any, map[string]any:
			var v any
			dec := json.NewDecoder(strings.NewReader(text))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, nil, fmt.Errorf("%s is a list or object; give it as JSON: %w", k, err)
			}
			out[k] = v
		default:
			if f, ok := Number(text); ok && strings.HasSuffix(k, "amount") {
				out[k] = json.Number(strconv.FormatFloat(f, 'f', -1, 64))
			} else {
				out[k] = text
			}
		}
	}
	return out, orig, nil
}
