package results

import (
	"encoding/json"
	"fmt"
)

// ReviewSuffix names the file that holds a result for a person to check:
// <file>.review.json holds the API's answer and why it is held, and
// <file>.json is written only once it is approved.
const ReviewSuffix = ".review.json"

// ReviewPath is where a held result of file goes.
func ReviewPath(file string) string { return file + ReviewSuffix }

// Held is the content of <file>.review.json.
type Held struct {
	Document    json.RawMessage `json:"document"`
	Source      Source          `json:"source"`
	DuplicateOf string          `json:"duplicate_of,omitempty"`
	// Review says why the result is held (internal/review's reasons, and
	// when).
	Review    json.RawMessage `json:"review"`
	WrittenAt string          `json:"written_at"`
}

// Reviewed is a result file written by a review decision: a result plus
// its "review" object (who decided, when, the original values).
type Reviewed struct {
	Result
	Review json.RawMessage `json:"review"`
}

// WriteHeldAt writes a held result for src at out, atomically.
func WriteHeldAt(out string, doc json.RawMessage, src Source, duplicateOf string, review json.RawMessage) error {
	if len(doc) == 0 {
		doc = json.RawMessage(`null`)
	}
	b, err := json.MarshalIndent(Held{Document: doc, Source: src, DuplicateOf: duplicateOf, Review: review, WrittenAt: now()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode held result for %s: %w", src.Path, err)
	}
	return WriteAtomic(out, append(b, '\n'))
}

// WriteReviewedAt writes the result of a review decision for src at out,
// atomically.
func WriteReviewedAt(out string, doc json.RawMessage, src Source, duplicateOf string, review json.RawMessage) error {
	b, err := json.MarshalIndent(Reviewed{Result: Result{Document: doc, Source: src, DuplicateOf: duplicateOf, WrittenAt: now()}, Review: review}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode reviewed result for %s: %w", src.Path, err)
	}
	return WriteAtomic(out, append(b, '\n'))
}
