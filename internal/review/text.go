package review

import "strings"

// ReasonsText is reasons on one line, "rule: message; rule: message", as
// 'ppsync review' lists them.
func ReasonsText(reasons []Reason) string {
	var s []string
	for _, r := range reasons {
		s = append(s, r.Rule+": "+r.Message)
	}
	return strings.Join(s, "; ")
}
