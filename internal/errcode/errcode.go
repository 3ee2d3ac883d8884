// Package errcode is the one catalogue of the codes a file can end with (in
// its <file>.error.json, in `ppsync status`, on the status page) and of the
// API's own error codes: for each, what it means, whether credits were spent,
// whether trying the same file again can help, and what the user should do.
//
// Every other package that names a code takes its explanation from here; the
// error table of docs/errors.md is generated from it (go test
// ./internal/errcode -update), and a test fails when a code that any package
// can write has no entry. It imports nothing but the standard library.
package errcode

import (
	"strings"
)

// Origin says who gives a code.
type Origin string

// The origins of the codes.
const (
	// Check: ppsync's own check before upload; nothing was sent or charged.
	Check Origin = "ppsync's check before upload"
	// CheckOrAPI: either; the API's refusal of one file is isolated by
	// splitting its batch, and charges nothing either.
	CheckOrAPI Origin = "ppsync's check before upload, or the API"
	// API: the PerfectParser API answered with it (the client may also
	// derive it from the HTTP status of an answer that named no code).
	API Origin = "the API"
	// Ppsync: ppsync decided it after the file was sent (matching answers to
	// files, results asked for again, review).
	Ppsync Origin = "ppsync, after sending"
	// Queue: a reason a queued file waits; not an error, it goes on by itself.
	Queue Origin = "ppsync, waiting"
)

// Entry explains one code.
type Entry struct {
	// Code as written in error files, the state and the API's answers.
	// "HTTP_<status>" stands for every HTTP_ code without an entry of its own.
	Code string
	// Origin is who gives it.
	Origin Origin
	// Meaning says what went wrong, in plain words.
	Meaning string
	// Charged tells whether credits were spent on this file.
	Charged bool
	// ChargeNote qualifies Charged ("by the API", "sending it again is
	// charged"); "" when there is nothing to add.
	ChargeNote string
	// Retry tells whether sending the same file again (ppsync retry, the
	// page's retry button) can succeed without changing the file, once a
	// cause outside it (a setting, the credits, the share, the API) is fixed.
	Retry bool
	// Fix is what the user should do. "Retry it" means the status page's
	// Retry button or 'ppsync retry FILE'.
	Fix string
	// OnFile is false for the codes that never end a file's life: the API's
	// answers that stop a command, and reasons a file waits while ppsync
	// handles them by itself.
	OnFile bool
}

// HTTPStatus is the catalogue's name for the codes the client derives from
// an HTTP status when the answer names no code of its own ("HTTP_502").
const HTTPStatus = "HTTP_<status>"

// ChargedText is the "charged?" answer as the docs write it: "no", "yes",
// followed by the note when there is one.
func (e Entry) ChargedText() string {
	s := "no"
	if e.Charged {
		s = "yes"
	}
	if e.ChargeNote != "" {
		s += " (" + e.ChargeNote + ")"
	}
	return s
}

// Lookup returns the entry of code (case-insensitive). An HTTP_ code without
// an entry of its own gets the HTTP_<status> entry, under its own name.
func Lookup(code string) (Entry, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if c == "" {
		return Entry{}, false
	}
	for _, e := range catalogue {
		if e.Code == c {
			return e, true
		}
	}
	if isHTTPCode(c) {
		for _, e := range catalogue {
			if e.Code == HTTPStatus {
				e.Code = c
				return e, true
			}
		}
	}
	return Entry{}, false
}

// Known reports whether code has an entry (an HTTP_ code always has one).
func Known(code string) bool {
	_, ok := Lookup(code)
	return ok
}

// All returns every entry, in the catalogue's order (by origin, then as a
// user meets them). The slice is a copy.
func All() []Entry {
	out := make([]Entry, len(catalogue))
	copy(out, catalogue[:])
	return out
}

func isHTTPCode(c string) bool {
	d, ok := strings.CutPrefix(c, "HTTP_")
	if !ok || len(d) != 3 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// catalogue is read only: Lookup and All hand out copies.
var catalogue = [...]Entry{
	// ppsync's check before upload: never sent, never charged.
	{Code: "EMPTY_FILE", Origin: Check, OnFile: true,
		Meaning: "The file is empty, and still was after incomplete_after (scanners pause; --once decides at once).",
		Fix:     "Scan or save it again, then drop the new file in the inbox."},
	{Code: "INCOMPLETE_FILE", Origin: Check, OnFile: true, Retry: true,
		Meaning: "The file was still without its end (a PDF's %%EOF, an image's end marker) after incomplete_after (scanners pause; --once decides at once): the copy or scan was probably interrupted.",
		Fix:     "Wait until the copy has finished, or drop a complete copy again, then retry it."},
	{Code: "NOT_A_PDF", Origin: Check, OnFile: true,
		Meaning: "The file is not a PDF, even though its name may say so (it does not start with %PDF-).",
		Fix:     "Save or export it as PDF and drop it in again."},
	{Code: "TRUNCATED_PDF", Origin: Check, OnFile: true, Retry: true,
		Meaning: "The PDF is cut off: it does not end the way a complete PDF does.",
		Fix:     "It was probably still being copied. Copy it again; if the copy is complete, retry it."},
	{Code: "PAGE_COUNT_FAILED", Origin: CheckOrAPI, OnFile: true,
		Meaning: "The pages of the PDF could not be counted, by ppsync's check or by the API (which then refused the file alone: ppsync split the batch to find it, the others went through); it is probably damaged.",
		Fix:     "Open it in a PDF viewer and save or print it to a new PDF, then drop that in."},
	{Code: "PASSWORD_PROTECTED_PDF", Origin: Check, OnFile: true,
		Meaning: "The PDF is protected by a password.",
		Fix:     "Save a copy without the password and drop that in."},
	{Code: "TRUNCATED_IMAGE", Origin: Check, OnFile: true, Retry: true,
		Meaning: "The image is cut off: it lacks its format's end marker.",
		Fix:     "It was probably still being copied. Copy it again; if the copy is complete, retry it."},
	{Code: "DAMAGED_IMAGE", Origin: Check, OnFile: true,
		Meaning: "The image is damaged: its content does not decode as its format.",
		Fix:     "Take or export the picture again (PNG, JPEG or WebP) and drop it in."},
	{Code: "FILE_TYPE_MISMATCH", Origin: Check, OnFile: true,
		Meaning: "The file's content is of another type than its name says (a JPEG named .pdf).",
		Fix:     "Rename it to the extension the message gives and drop it in again."},
	{Code: "FILE_TOO_LARGE", Origin: Check, OnFile: true, Retry: true,
		Meaning: "The file is larger than [upload] max_file_size.",
		Fix:     "Split it into smaller files, or raise [upload] max_file_size if your PerfectParser plan allows larger files, then retry it."},
	{Code: "UNSUPPORTED_FILE_TYPE", Origin: CheckOrAPI, OnFile: true,
		Meaning: "The file is of a type the inbox or PerfectParser does not take: HEIC, TIFF, GIF, BMP or another (the message says what to convert to). From the API, it refused the file alone: ppsync split the batch to find it, the others went through.",
		Fix:     "Save it as PDF (or PNG, JPEG, WebP) and drop it in again. On an iPhone: Settings → Camera → Formats → Most Compatible."},
	{Code: "TOO_MANY_PAGES", Origin: Check, OnFile: true, Retry: true,
		Meaning: "The PDF has more pages than the inbox's max_pages (2,000 by default); the message gives both numbers.",
		Fix:     "Split the file, or raise max_pages for the inbox and run 'ppsync retry' on it."},
	{Code: "VALIDATION_CRASHED", Origin: Check, OnFile: true, Retry: true,
		Meaning: "ppsync stopped (crashed, ran out of memory, was killed) twice in a row while checking this file, so it is not checked again.",
		Fix:     "Drop a changed file, or run 'ppsync retry FILE': either is checked afresh."},
	{Code: "NAME_TOO_LONG", Origin: Check, OnFile: true,
		Meaning: "The result file's name would not fit the file system (the error file gets a shortened name).",
		Fix:     "Give the file a shorter name and drop it in again."},
	{Code: "UNREADABLE_FILE", Origin: Check, OnFile: true, Retry: true,
		Meaning: "ppsync may not read the file (permissions, or the share was unavailable).",
		Fix:     "Grant the ppsync user read access or check that the file opens from this computer, then retry it."},

	// The API refused the file or its request: nothing charged.
	{Code: "INVALID_PAYLOAD", Origin: API, OnFile: true, Retry: true,
		Meaning: "The API refused the request or the file as invalid; a file it refused alone was isolated by splitting the batch, the others went through.",
		Fix:     "Read the API's message in the error file. If the file is at fault, replace it; otherwise retry it."},
	{Code: "PARSER_NOT_FOUND", Origin: API, OnFile: true, Retry: true,
		Meaning: "The inbox's parser_id names no parser of this API key.",
		Fix:     "Fix parser_id of the inbox in the configuration, reload or restart ppsync, then run 'ppsync retry --failed'."},
	{Code: "PARSER_NOT_CONFIGURED", Origin: API, OnFile: true, Retry: true,
		Meaning: "The inbox's parser has no schema (no fields) yet.",
		Fix:     "Set up the parser's fields in PerfectParser (or run detect-fields in the dashboard), then run 'ppsync retry --failed'."},
	{Code: "HTTP_413", Origin: API, OnFile: true, Retry: true,
		Meaning: "The request was too large for a proxy in front of the API even with this file alone (ppsync split the batch by bytes first).",
		Fix:     "Make the file smaller, or raise the proxy's body limit, then retry it."},
	{Code: "PAYLOAD_TOO_LARGE", Origin: API, OnFile: true,
		Meaning: "The API said the request was too large; ppsync splits the batch, and a file too large even alone ends with this code.",
		Fix:     "Make the file smaller (split it or lower its resolution), then drop it in again."},
	{Code: "REQUEST_TOO_LARGE", Origin: API, OnFile: true,
		Meaning: "The API said the request was too large; ppsync splits the batch, and a file too large even alone ends with this code.",
		Fix:     "Make the file smaller (split it or lower its resolution), then drop it in again."},
	{Code: HTTPStatus, Origin: API, OnFile: true, Retry: true,
		Meaning: "A refusal of the whole request without a code of the API's own (an answer from a proxy, or a refusal still there after a bounded number of tries); the API's status and message are quoted.",
		Fix:     "Read the quoted message; once its cause is fixed (a proxy, the network), retry it."},
	{Code: "SUBMISSION_REFUSED", Origin: API, OnFile: true, Retry: true,
		Meaning: "PerfectParser refused the file when it was sent, without a code ppsync knows; its message is quoted.",
		Fix:     "Read the reason. If it was temporary, retry it; if the file is at fault, replace it."},
	{Code: "INTERNAL_ERROR", Origin: API, OnFile: true, Retry: true,
		Meaning: "The API failed on its side, still after a bounded number of tries.",
		Fix:     "Retry it later (ppsync retry --failed does them all); nothing was charged."},
	{Code: "BAD_RESPONSE", Origin: API, OnFile: true, Retry: true,
		Meaning: "The API's answer could not be read (not the JSON the docs describe).",
		Fix:     "Retry it later; if it persists, check what sits between ppsync and the API (a proxy's page is quoted)."},
	{Code: "RESOURCE_NOT_FOUND", Origin: API, OnFile: true, Retry: true,
		Meaning: "The API no longer knows the submission or document ppsync asked about.",
		Fix:     "Retry it to send the file again ('ppsync retry --failed' does them all)."},
	{Code: "INSUFFICIENT_CREDITS", Origin: API, OnFile: true, Retry: true,
		Meaning: "There were not enough credits to process the file (a 402 puts the batch back in the queue, uncharged, and ppsync waits for a top-up by itself).",
		Fix:     "Buy credits; ppsync goes on by itself when they arrive (or retry it)."},
	{Code: "RATE_LIMITED", Origin: API, OnFile: false, Retry: true,
		Meaning: "The API's rate limit was reached (a 429); ppsync pauses that kind of call until the server's reset and goes on by itself.",
		Fix:     "Nothing to do: the file goes on by itself. If it happens often, several programs share the key."},
	{Code: "UNAUTHORIZED", Origin: API, OnFile: false,
		Meaning: "The API refused the key (a 401); ppsync does not start, or `ppsync check` says so, naming where the key came from.",
		Fix:     "Set a valid key (api_key_env, api_key_file or the env file beside the config) and start ppsync again."},
	{Code: "CONFLICT", Origin: API, OnFile: false, Retry: true,
		Meaning: "The API refused a change that conflicts with another (an idempotency key reused with other content, or a concurrent change).",
		Fix:     "Nothing to do: ppsync sends a changed batch under a new key by itself."},
	{Code: "SCHEMA_ALREADY_EXISTS", Origin: API, OnFile: false,
		Meaning: "The parser already has a schema (an answer to setting one up); ppsync never sets schemas, so no file ends with it.",
		Fix:     "Nothing to do in ppsync; edit the schema in the PerfectParser dashboard."},

	// After sending.
	{Code: "NOT_IN_ANSWER", Origin: Ppsync, OnFile: true, Charged: true,
		ChargeNote: "the job named in the message was charged; check it before 'ppsync retry', which is charged again",
		Meaning:    "The API's answer twice named no document for this file (a result is never guessed from positions); upload names are chosen so that this should not happen.",
		Fix:        "Check that extraction in the PerfectParser dashboard; run 'ppsync retry' on the file only if its result is not there (it is charged again)."},
	{Code: "EXTRACTION_FAILED", Origin: API, OnFile: true, Charged: true, Retry: true,
		ChargeNote: "by the API; ppsync does not resend it by itself",
		Meaning:    "PerfectParser could not read the document: it processed it and failed it (its error_message is quoted).",
		Fix:        "Check that the scan is legible and the right way up. Then retry it (it is charged again)."},
	{Code: "RESULT_MISMATCH", Origin: Ppsync, OnFile: true, Charged: true,
		ChargeNote: "the API processed the document",
		Meaning:    "The result's document names another file or another page count than this file, so it is not written at all; the reason shows in 'ppsync status' and on the status page.",
		Fix:        "Run 'ppsync retry --reprocess' on the file to send it as a new job (charged again); if it happens again, report the reason."},
	{Code: "RESULT_UNAVAILABLE", Origin: Ppsync, OnFile: true,
		ChargeNote: "sending it again is charged",
		Meaning:    "This file has the same content as a file processed before, but that earlier result is in no result file any more and the API no longer has it. Nothing was charged; ppsync never pays a second time by itself.",
		Fix:        "Press \"Process again\" (or run 'ppsync retry --reprocess' on the file) to send it as a new job; it is charged again (1 credit a page)."},
	{Code: "REJECTED_IN_REVIEW", Origin: Ppsync, OnFile: true, Charged: true,
		ChargeNote: "by the extraction; the review decision is not charged",
		Meaning:    "A person rejected the result held for review (the note they gave is quoted).",
		Fix:        "Fix the file or the parser, then run 'ppsync retry --reprocess' on it to send it again (charged again)."},

	// Reasons a queued file waits.
	{Code: "WAITING_FOR_CREDITS", Origin: Queue, OnFile: false, Retry: true,
		Meaning: "The file needs more credits than are available (\"needs 60 credits, 50 available\"); smaller files go ahead meanwhile.",
		Fix:     "Buy credits; the file goes by itself after the top-up."},
}

// Table is the Markdown table of the catalogue that docs/errors.md holds
// between its begin and end markers.
func Table() string {
	var b strings.Builder
	b.WriteString("| code | given by | meaning | charged? | can a retry help? | what to do |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, e := range catalogue {
		retry := "no: change the file"
		switch {
		case e.OnFile && e.Retry:
			retry = "yes"
		case e.Retry:
			retry = "not needed: it goes on by itself"
		case !e.OnFile:
			retry = "no file ends with it"
		}
		b.WriteString("| `" + e.Code + "` | " + string(e.Origin) + " | " + cell(e.Meaning) + " | " + cell(e.ChargedText()) + " | " + retry + " | " + cell(e.Fix) + " |\n")
	}
	return b.String()
}

// cell keeps text inside one Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
