package review

import "testing"

func TestReasonsText(t *testing.T) {
	for _, tc := range []struct {
		reasons []Reason
		want    string
	}{
		{nil, ""},
		{[]Reason{{Rule: "confidence", Message: "0.41 is below 0.8"}}, "confidence: 0.41 is below 0.8"},
		{[]Reason{{Rule: "required", Field: "total_amount", Message: "total_amount is missing"}, {Rule: "duplicate", Message: "like a.pdf"}},
			"required: total_amount is missing; duplicate: like a.pdf"},
	} {
		if got := ReasonsText(tc.reasons); got != tc.want {
			t.Errorf("ReasonsText(%v) = %q, want %q", tc.reasons, got, tc.want)
		}
	}
}

func TestDocumentText(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"confidence":0.75,"extracted_data":{"b":1,"a":"x"}}`, "confidence: 0.75\nextracted_data:\n{\n  \"a\": \"x\",\n  \"b\": 1\n}\n"},
		{`{"extracted_data":{"a":1}}`, "extracted_data:\n{\n  \"a\": 1\n}\n"},
		{`{"confidence":0.5}`, "confidence: 0.5\n"},
		{`not json`, ""},
	} {
		if got := DocumentText([]byte(c.doc)); got != c.want {
			t.Errorf("DocumentText(%s) = %q, want %q", c.doc, got, c.want)
		}
	}
}
