package emulator_test

import (
	"testing"

	"github.com/ppsync/ppsync/internal/emulator"
)

func TestReviewMarkers(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	cases := []struct {
		name   string
		marker string
		check  func(t *testing.T, doc, data map[string]any)
	}{
		{"plain", "", func(t *testing.T, doc, data map[string]any) {
			if c := doc["confidence"].(float64); c < 0.9 || data["invoice_number"] == nil || data["total_amount"] == nil {
				t.Errorf("plain invoice: confidence %v data %v", c, data)
			}
		}},
		{"low confidence", emulator.LowConfidenceMarker, func(t *testing.T, doc, data map[string]any) {
			if doc["confidence"] != emulator.LowConfidence || data["invoice_number"] == nil {
				t.Errorf("confidence %v, data %v", doc["confidence"], data)
			}
		}},
		{"missing field", emulator.MissingFieldMarker + "invoice_number", func(t *testing.T, doc, data map[string]any) {
			if v, ok := data["invoice_number"]; !ok || v != nil || data["invoice_date"] == nil {
				t.Errorf("data %v", data)
			}
		}},
		{"bad sum", emulator.BadSumMarker, func(t *testing.T, doc, data map[string]any) {
			sum := 0.0
			for _, it := range data["line_items"].([]any) {
				sum += it.(map[string]any)["amount"].(float64)
			}
			if d := data["total_amount"].(float64) - sum; d < 9.99 || d > 10.01 {
				t.Errorf("total %v, items add up to %v", data["total_amount"], sum)
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.marker != "" {
				extra = append(extra, c.marker)
			}
			a := h.submit("prs_invoice", nil, invoice(t, 100+i, 1, extra...))
			id := a.obj("extraction")["extraction_id"].(string)
			h.waitStatus(id, "completed")
			res := h.get("/v1/extractions/" + id + "/results")
			doc := res.obj("extraction")["documents"].([]any)[0].(map[string]any)
			c.check(t, doc, doc["extracted_data"].(map[string]any))
		})
	}
}
