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
