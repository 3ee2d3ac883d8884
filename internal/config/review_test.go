package config_test

import (
	"slices"
	"strings"
	"testing"
)

func TestReviewSettings(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, `
[[inbox]]
path = "scans"
parser_id = "prs_invoice"
review_below = 0.85
require = ["invoice_number", "total_amount", "invoice_date"]
review_sums = true
review_duplicates = true
review_in_ledger = true
ledger = "l.csv"

[[inbox]]
path = "receipts"
parser_id = "prs_invoice"
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Inboxes[0], c.Inboxes[1]
	if a.ReviewBelow != 0.85 || !slices.Equal(a.Require, []string{"invoice_number", "total_amount", "invoice_date"}) || !a.ReviewSums ||
		a.SumTolerance != 0.01 || !a.ReviewDuplicates || !a.ReviewInLedger || !a.Reviews() {
		t.Errorf("inbox 0: %+v", a)
	}
	if b.Reviews() || b.SumTolerance != 0 {
		t.Errorf("inbox 1 reviews nothing: %+v", b)
	}
}

func TestReviewErrors(t *testing.T) {
	dir := setup(t)
	inbox := func(extra string) string {
		return "\n[[inbox]]\npath = \"scans\"\nparser_id = \"prs_invoice\"\n" + extra + "\n"
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"confidence above 1", inbox(`review_below = 85`), []string{"ppsync.toml:5", "inbox[0].review_below", "between 0 and 1"}},
		{"negative confidence", inbox(`review_below = -0.1`), []string{"inbox[0].review_below"}},
		{"empty required field", inbox(`require = ["invoice_number", " "]`), []string{"ppsync.toml:5", "inbox[0].require", "entry 2 is empty"}},
		{"negative tolerance", inbox("review_sums = true\nsum_tolerance = -1"), []string{"ppsync.toml:6", "inbox[0].sum_tolerance", "negative"}},
		{"unknown key", inbox(`review_bellow = 0.8`), []string{"review_bellow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.text)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	c, err := parse(t, dir, inbox("review_in_ledger = true\nsum_tolerance = 2"))
	if err != nil || len(c.Warnings) != 2 {
		t.Errorf("warnings %v %v", c.Warnings, err)
	}
}
