package ledger

// ReviewColumn is the column that marks results held for review, present
// when the ledger lists any (review_in_ledger = true).
const ReviewColumn = "review"

// heldReview is the part of a held result's "review" object the ledger
// reads: its status ("to review"). A result delivered after review has a
// decision and no status, and is an ordinary row.
type heldReview struct {
	Status string `json:"status"`
}

// reviewColumn reports whether any row is marked for review.
func reviewColumn(rows []Row) bool {
	for _, r := range rows {
		if r.Review != "" {
			return true
		}
	}
	return false
}
