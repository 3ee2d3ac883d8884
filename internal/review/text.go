package review

import (
	"encoding/json"
	"fmt"
	"os/user"
	"strings"
)

// CodeRejected is the error code of a result a person rejected.
const CodeRejected = "REJECTED_IN_REVIEW"

// ReasonsText is reasons on one line, "rule: message; rule: message", as
// 'ppsync review' lists them.
func ReasonsText(reasons []Reason) string {
	var s []string
	for _, r := range reasons {
		s = append(s, r.Rule+": "+r.Message)
	}
	return strings.Join(s, "; ")
}

// DocumentText is what 'ppsync review show' prints of a held result's API
// document: its confidence and its extracted data, indented. Either is
// left out when the document does not have it.
func DocumentText(document json.RawMessage) string {
	var doc struct {
		Confidence    *float64        `json:"confidence"`
		ExtractedData json.RawMessage `json:"extracted_data"`
	}
	_ = json.Unmarshal(document, &doc)
	var b strings.Builder
	if doc.Confidence != nil {
		fmt.Fprintf(&b, "confidence: %g\n", *doc.Confidence)
	}
	var pretty any
	if json.Unmarshal(doc.ExtractedData, &pretty) == nil {
		j, _ := json.MarshalIndent(pretty, "", "  ")
		fmt.Fprintf(&b, "extracted_data:\n%s\n", j)
	}
	return b.String()
}

// Reviewer names who decides from this machine: the account's user name,
// else "cli".
func Reviewer() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}
