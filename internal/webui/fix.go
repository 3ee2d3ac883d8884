package webui

import "github.com/ppsync/ppsync/internal/errcode"

// fixFor explains code from the catalogue of error codes; unknown codes get
// a general answer.
func fixFor(code, reason string, refused bool) Fix {
	if e, ok := errcode.Lookup(code); ok {
		return Fix{Problem: e.Meaning, Action: e.Fix, Retry: e.Retry}
	}
	if refused {
		return Fix{Problem: "ppsync did not send this file: " + reason, Action: "Replace the file with a valid PDF, or press retry once the cause is fixed.", Retry: true}
	}
	return Fix{Problem: "The file could not be processed: " + reason, Action: "Press retry to send it again; if it fails the same way, check the file.", Retry: true}
}
