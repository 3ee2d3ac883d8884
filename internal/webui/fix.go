package webui

import "strings"

// fixes explains the error codes a file can end with, in plain words.
var fixes = map[string]Fix{
	"EMPTY_FILE":             {Problem: "The file is empty.", Action: "Scan or save it again, then drop the new file in the inbox.", Retry: false},
	"NOT_A_PDF":              {Problem: "The file is not a PDF, even though its name may say so.", Action: "Save or export it as PDF and drop it in again.", Retry: false},
	"TRUNCATED_PDF":          {Problem: "The PDF is cut off: it does not end the way a complete PDF does.", Action: "It was probably still being copied. Copy it again; if the copy is complete, press retry.", Retry: true},
	"INCOMPLETE_FILE":        {Problem: "The file was still incomplete when it was checked.", Action: "Wait until the copy has finished, then press retry.", Retry: true},
	"PAGE_COUNT_FAILED":      {Problem: "The pages of the PDF could not be counted; it is probably damaged.", Action: "Open it in a PDF viewer and save or print it to a new PDF, then drop that in.", Retry: false},
	"PASSWORD_PROTECTED_PDF": {Problem: "The PDF is protected by a password.", Action: "Save a copy without the password and drop that in.", Retry: false},
	"FILE_TOO_LARGE":         {Problem: "The file is larger than the size limit.", Action: "Split it into smaller PDFs, or raise the limit in the configuration.", Retry: false},
	"UNREADABLE_FILE":        {Problem: "The file could not be read (permissions, or the share was unavailable).", Action: "Check that the file opens from this computer, then press retry.", Retry: true},
	"SUBMISSION_REFUSED":     {Problem: "PerfectParser refused the file when it was sent.", Action: "Read the reason below. If it was temporary, press retry; if the file is at fault, replace it.", Retry: true},
	"EXTRACTION_FAILED":      {Problem: "PerfectParser could not read the document.", Action: "Check that the scan is legible and the right way up. Press retry to try again (it is charged again).", Retry: true},
	"RESOURCE_NOT_FOUND":     {Problem: "The job was no longer found at PerfectParser.", Action: "Press retry to send the file again.", Retry: true},
	"INSUFFICIENT_CREDITS":   {Problem: "There were not enough credits to process the file.", Action: "Buy credits, then press retry.", Retry: true},
	"UNSUPPORTED_FILE_TYPE":  {Problem: "PerfectParser does not accept this type of file.", Action: "Save it as PDF and drop it in again.", Retry: false},
	"PARSER_NOT_FOUND":       {Problem: "The parser set for this inbox does not exist.", Action: "Fix parser_id of the inbox in the configuration, restart ppsync, then press retry.", Retry: true},
	"PARSER_NOT_CONFIGURED":  {Problem: "The parser set for this inbox has no fields yet.", Action: "Set up the parser's fields in PerfectParser, then press retry.", Retry: true},
	// The "Process again" button (ppsync retry --reprocess) is the way out;
	// a retry only asks for the same earlier result again.
	"RESULT_UNAVAILABLE": {Problem: "This file has the same content as a file processed before, but that earlier result is no longer on disk or at PerfectParser. Nothing was charged.",
		Action: "Press \"Process again\" (or run 'ppsync retry --reprocess' on the file) to send it as a new job; it is charged again (1 credit a page).", Retry: false},
}

// fixFor explains code; unknown codes get a general answer.
func fixFor(code, reason string, refused bool) Fix {
	if f, ok := fixes[strings.ToUpper(code)]; ok {
		return f
	}
	if refused {
		return Fix{Problem: "ppsync did not send this file: " + reason, Action: "Replace the file with a valid PDF, or press retry once the cause is fixed.", Retry: true}
	}
	return Fix{Problem: "The file could not be processed: " + reason, Action: "Press retry to send it again; if it fails the same way, check the file.", Retry: true}
}
