package ledger

import "github.com/ppsync/ppsync/internal/control"

// Answer is RebuildAll's outcome as internal/control says it: each ledger
// rebuilt, and each inbox's error (err may join several).
func Answer(done []Rebuilt, err error) control.RebuildAnswer {
	ans := control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{}}
	for _, r := range done {
		lr := control.LedgerRebuilt{Inbox: r.Inbox, Ledger: r.Ledger, Documents: r.Documents}
		if r.SchemaErr != nil {
			lr.SchemaNote = r.SchemaErr.Error()
		}
		ans.Rebuilt = append(ans.Rebuilt, lr)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			ans.Errors = append(ans.Errors, e.Error())
		}
	} else if err != nil {
		ans.Errors = append(ans.Errors, err.Error())
	}
	return ans
}
