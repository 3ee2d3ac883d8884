package config

import (
	"fmt"
	"strings"
)

// DefaultSumTolerance is how far line items may be from the total when
// review_sums is on and sum_tolerance is not set.
const DefaultSumTolerance = 0.01

// review checks an inbox's review keys (review_below, require, review_sums,
// sum_tolerance, review_duplicates, review_in_ledger).
func (v *validator) review(i int) {
	in := &v.c.Inboxes[i]
	k := func(s string) string { return fmt.Sprintf("inbox[%d].%s", i, s) }
	if in.ReviewBelow < 0 || in.ReviewBelow > 1 {
		v.fail(k("review_below"), "%g is not a confidence: use a number between 0 and 1 (e.g. 0.85), or leave it out to review no result for its confidence", in.ReviewBelow)
	}
	for j, f := range in.Require {
		if strings.TrimSpace(f) == "" {
			v.fail(k("require"), "entry %d is empty: list the extracted fields a result must have, e.g. [\"invoice_number\", \"total_amount\"]", j+1)
		}
	}
	switch {
	case in.SumTolerance < 0:
		v.fail(k("sum_tolerance"), "%g is negative: give how far the line items may be from the total, e.g. 0.01", in.SumTolerance)
	case in.SumTolerance == 0 && in.ReviewSums:
		in.SumTolerance = DefaultSumTolerance
	case in.SumTolerance > 0 && !in.ReviewSums:
		v.warn(k("sum_tolerance"), "is only used with review_sums = true")
	}
	if in.ReviewInLedger && in.Ledger == "" {
		v.warn(k("review_in_ledger"), "is only used with a ledger: set ledger = \"ledger.csv\" or remove review_in_ledger")
	}
}

// Reviews reports whether any review rule is on for the inbox.
func (in Inbox) Reviews() bool {
	return in.ReviewBelow > 0 || len(in.Require) > 0 || in.ReviewSums || in.ReviewDuplicates
}
