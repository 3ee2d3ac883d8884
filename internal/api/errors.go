package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// Error is an error answer from the API. It never carries the API key.
type Error struct {
	// Op is "METHOD /route", e.g. "POST /v1/extractions".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's machine-readable code (e.g. INSUFFICIENT_CREDITS),
	// or a code derived from the HTTP status when the body had none.
	Code string
	// Message is the API's human message, or a summary of a non-JSON body.
	Message string
	// fromProxy marks a non-JSON answer: a proxy or gateway in front of the
	// API spoke, not the API.
	fromProxy bool
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("PerfectParser %s: HTTP %d %s: %s%s", e.Op, e.StatusCode, e.Code, msg, e.hint())
}

func (e *Error) hint() string {
	switch {
	case e.Code == apitypes.CodeUnauthorized:
		return " (check the API key configured in [api]: api_key_env, api_key_file or api_key)"
	case e.Code == apitypes.CodeInsufficientCredits:
		return " (buy credits in the PerfectParser dashboard; ppsync waits and resumes by itself)"
	case e.Code == apitypes.CodeParserNotFound:
		return " (check the inbox's parser_id against your parsers in the dashboard)"
	case e.Code == apitypes.CodeParserNotConfigured:
		return " (the parser has no schema yet: add fields or run detect-fields in the dashboard)"
	case e.StatusCode == http.StatusRequestEntityTooLarge:
		return " (the request is over a size limit, likely of a proxy in front of the API; ppsync splits a batch into smaller requests)"
	case e.StatusCode == http.StatusLengthRequired:
		return " (a proxy in front of the API refuses uploads without Content-Length)"
	case (e.StatusCode >= 500 || e.StatusCode == http.StatusNotFound) && e.fromProxy:
		return " (answered by a proxy or gateway in front of the API, not by the API itself; ppsync retries)"
	case e.StatusCode >= 500:
		return " (a server-side problem; ppsync retries)"
	}
	return ""
}

// IsRetryableStatus reports an HTTP status after which the same request may
// succeed later: 408, 425, 429 and the 5xx answers other than 501 and 505.
// Whether a retry is safe (nothing charged twice) is the caller's question:
// a submission is only repeated under the same Idempotency-Key.
func IsRetryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status <= 599
}

// IsRetryable reports an *Error whose status IsRetryableStatus.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && IsRetryableStatus(e.StatusCode)
}

// IsTooLarge reports a 413: the request was over a size limit of the API or
// of a proxy in front of it (often an HTML page). Splitting the batch into
// smaller requests is the remedy; repeating it is not.
func IsTooLarge(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusRequestEntityTooLarge ||
		e.Code == "PAYLOAD_TOO_LARGE" || e.Code == "REQUEST_TOO_LARGE")
}

// IsRequestLevel reports a 400 about the request itself (a missing
// parser_id, a malformed body, too many files): no file of the batch is to
// blame, so splitting it cannot help and repeating it cannot either; fail
// the batch once with the API's message. The per-file codes
// (UNSUPPORTED_FILE_TYPE, PAGE_COUNT_FAILED) and the parser problems
// (PARSER_NOT_FOUND, PARSER_NOT_CONFIGURED) are not request-level.
//
// A bare INVALID_PAYLOAD is request-level here and also IsBadFile (the API
// gives it to a file over its size limit, which ppsync never sends): check
// IsRequestLevel first.
func IsRequestLevel(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || e.fromProxy {
		return false
	}
	switch e.Code {
	case apitypes.CodeUnsupportedFileType, apitypes.CodePageCountFailed,
		apitypes.CodeParserNotFound, apitypes.CodeParserNotConfigured:
		return false
	}
	return true
}

// Temporary reports whether repeating the same request later may succeed.
func (e *Error) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout || e.proxyNotFound()
}

// proxyNotFound reports a 404 page that did not come from the API (no JSON
// envelope): a proxy or load balancer in front of it, briefly routing to a
// backend that is not ready. The API's own 404 carries RESOURCE_NOT_FOUND
// or PARSER_NOT_FOUND in JSON; only that means the thing is gone.
func (e *Error) proxyNotFound() bool { return e.StatusCode == http.StatusNotFound && e.fromProxy }

func hasCode(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// IsRateLimited reports a 429 RATE_LIMITED answer.
func IsRateLimited(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusTooManyRequests || e.Code == apitypes.CodeRateLimited)
}

// IsInsufficientCredits reports a 402 INSUFFICIENT_CREDITS answer.
func IsInsufficientCredits(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusPaymentRequired || e.Code == apitypes.CodeInsufficientCredits)
}

// IsUnauthorized reports a 401 answer: the key is wrong, revoked or missing.
func IsUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusUnauthorized || e.Code == apitypes.CodeUnauthorized)
}

// IsParserNotFound reports PARSER_NOT_FOUND.
func IsParserNotFound(err error) bool { return hasCode(err, apitypes.CodeParserNotFound) }

// IsParserNotConfigured reports PARSER_NOT_CONFIGURED.
func IsParserNotConfigured(err error) bool { return hasCode(err, apitypes.CodeParserNotConfigured) }

// IsParserProblem reports an answer that no retry of the same parser id can fix.
func IsParserProblem(err error) bool { return IsParserNotFound(err) || IsParserNotConfigured(err) }

// IsBadFile reports an answer that may blame the uploaded content: the
// batch holds at least one file the API refuses. It includes a bare 400
// INVALID_PAYLOAD, which IsRequestLevel also reports: check that first.
func IsBadFile(err error) bool {
	if hasCode(err, apitypes.CodeUnsupportedFileType, apitypes.CodePageCountFailed) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusBadRequest && e.Code == apitypes.CodeInvalidPayload
}

// IsNotFound reports the API's own answer that a resource does not exist:
// RESOURCE_NOT_FOUND, or a 404 in the API's JSON envelope. A 404 page from
// a proxy in front of the API is not that: it is temporary (Temporary), and
// a job or result is never given up on its word.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.fromProxy && (e.StatusCode == http.StatusNotFound || e.Code == apitypes.CodeResourceNotFound)
}

var titleRe = regexp.MustCompile(`(?is)<title>(.*?)</title>`)

// decodeError builds an *Error from any answer body, following the contract's
// tolerance rules: error.code, else top-level code, else error as a string,
// else the HTTP status; a non-JSON body is summarised, never fatal.
func decodeError(op string, status int, contentType string, body []byte) *Error {
	e := &Error{Op: op, StatusCode: status}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) == nil {
		var nested struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if v, ok := raw["error"]; ok {
			var s string
			if json.Unmarshal(v, &nested) == nil && (nested.Code != "" || nested.Message != "") {
				e.Code, e.Message = nested.Code, nested.Message
			} else if json.Unmarshal(v, &s) == nil {
				// {"error": "SOME_CODE"} or {"error": "some text", "message": ...}
				if isCodeLike(s) {
					e.Code = s
				} else {
					e.Message = s
				}
			}
		}
		if e.Code == "" {
			_ = json.Unmarshal(raw["code"], &e.Code)
		}
		if e.Message == "" {
			_ = json.Unmarshal(raw["message"], &e.Message)
		}
	} else if len(body) > 0 {
		e.Message = summarise(contentType, body)
		e.fromProxy = true
	}
	switch {
	case e.proxyNotFound():
		// Not the API's RESOURCE_NOT_FOUND: a proxy's page (see proxyNotFound).
		e.Code = "HTTP_404"
	case e.Code == "":
		e.Code = codeForStatus(status)
	}
	return e
}

func isCodeLike(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r == '_' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func summarise(contentType string, body []byte) string {
	s := string(body)
	what := "a non-JSON answer"
	if ct := strings.TrimSpace(strings.Split(contentType, ";")[0]); ct != "" {
		what = "a non-JSON answer (" + ct + ")"
	}
	if m := titleRe.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return what + ": " + s
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return apitypes.CodeInvalidPayload
	case http.StatusUnauthorized:
		return apitypes.CodeUnauthorized
	case http.StatusPaymentRequired:
		return apitypes.CodeInsufficientCredits
	case http.StatusNotFound:
		return apitypes.CodeResourceNotFound
	case http.StatusTooManyRequests:
		return apitypes.CodeRateLimited
	}
	return "HTTP_" + fmt.Sprint(status)
}
