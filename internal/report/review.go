package report

import (
	"fmt"
	"io"
	"time"
)

// Review is the review queue: results held for a person to check.
type Review struct {
	Pending int `json:"pending"`
	// Oldest is when the oldest waiting result was held.
	Oldest time.Time `json:"oldest,omitzero"`
	// OldestAgeSeconds is how long it has waited.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// Counts are the pending results by inbox and rule (a result held by
	// two rules counts under each).
	Counts []ReviewCount `json:"counts,omitempty"`
}

// ReviewCount is one inbox's pending results held by one rule.
type ReviewCount struct {
	Inbox  string `json:"inbox"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// writeReview prints the review queue's line of the status.
func (r Report) writeReview(w io.Writer) {
	if r.Review == nil || r.Review.Pending == 0 {
		return
	}
	fmt.Fprintf(w, "review:    %s to review, the oldest for %s ('ppsync review list', or the status page)\n",
		plural(r.Review.Pending, "result"), time.Duration(r.Review.OldestAgeSeconds*float64(time.Second)).Round(time.Second))
}
