package stageopts

import (
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/review"
)

// Ledgers are the ledger settings of the inboxes ins.
func Ledgers(ins []config.Inbox) []ledger.Inbox {
	out := make([]ledger.Inbox, len(ins))
	for i, in := range ins {
		sep, dec := in.LedgerFormat()
		out[i] = ledger.Inbox{Path: in.Path, Ledger: in.Ledger, ParserID: in.ParserID, ResultsDir: in.ResultsDir,
			ProcessedDir: in.ProcessedDir, FailedDir: in.FailedDir, Move: in.After == "move",
			Format: ledger.Format{Separator: sep, Decimal: dec}, Held: in.ReviewInLedger}
	}
	return out
}

// Review is the review rules of inbox in.
func Review(in config.Inbox) review.Rules {
	return review.Rules{Below: in.ReviewBelow, Require: slices.Clone(in.Require), Sums: in.ReviewSums, Tolerance: in.SumTolerance,
		Duplicates: in.ReviewDuplicates}
}

// UploadExtensions are the file endings every inbox accepts by its types
// ("*.pdf" → ".pdf"; the default types for an inbox without), in the order
// first met: what the status page's upload offers.
func UploadExtensions(ins []config.Inbox) []string {
	var exts []string
	for _, in := range ins {
		types := in.Types
		if len(types) == 0 {
			types = config.DefaultTypes()
		}
		for _, t := range types {
			if e, ok := strings.CutPrefix(strings.ToLower(t), "*"); ok && strings.HasPrefix(e, ".") && !slices.Contains(exts, e) {
				exts = append(exts, e)
			}
		}
	}
	return exts
}
