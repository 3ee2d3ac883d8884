package emulator

import (
	"encoding/json"
	"strings"
)

// Markers in a PDF's text (or an image's made-up lines) that make the
// emulator answer what a person has to check, so tests choose the case:
//
//   - LowConfidenceMarker: the document completes with confidence 0.42;
//   - MissingFieldMarker followed by a field name
//     ("EMULATOR-MISSING-invoice_number"): that field of extracted_data is
//     null;
//   - BadSumMarker: the total is 10.00 more than its line items.
const (
	LowConfidenceMarker = "EMULATOR-LOW-CONFIDENCE"
	MissingFieldMarker  = "EMULATOR-MISSING-"
	BadSumMarker        = "EMULATOR-BAD-SUM"
)

// LowConfidence is the confidence a document with LowConfidenceMarker gets.
const LowConfidence = 0.42

// reviewQuirks applies the review markers found in lines to a completed
// document's extracted data and confidence.
func reviewQuirks(lines []string, data json.RawMessage, conf float64) (json.RawMessage, float64) {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil || m == nil {
		return data, conf
	}
	changed := false
	for _, l := range lines {
		if strings.Contains(l, LowConfidenceMarker) {
			conf = LowConfidence
		}
		if strings.Contains(l, BadSumMarker) {
			if t, ok := m["total_amount"].(float64); ok {
				m["total_amount"] = t + 10
				changed = true
			}
		}
		if _, rest, ok := strings.Cut(l, MissingFieldMarker); ok {
			field := rest
			if i := strings.IndexFunc(rest, func(r rune) bool { return r != '_' && (r < 'a' || r > 'z') }); i >= 0 {
				field = rest[:i]
			}
			if field != "" {
				m[field] = nil
				changed = true
			}
		}
	}
	if !changed {
		return data, conf
	}
	b, err := json.Marshal(m)
	if err != nil {
		return data, conf
	}
	return b, conf
}
