package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// FuzzDecodeError: any answer body decodes to an *Error with a code, and
// never panics.
func FuzzDecodeError(f *testing.F) {
	f.Add(402, "application/json", []byte(`{"error":{"code":"INSUFFICIENT_CREDITS","message":"low"}}`))
	f.Add(502, "text/html", []byte(`<html><title>502 Bad Gateway</title></html>`))
	f.Add(400, "", []byte(`{"error":"UNSUPPORTED_FILE_TYPE"}`))
	f.Add(404, "application/json", []byte(`{"code":"PARSER_NOT_FOUND"}`))
	f.Add(413, "text/html", []byte("<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body><center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center></body></html>"))
	f.Add(504, "text/html", []byte(`<html><head><title>504 Gateway Time-out</title></head></html>`))
	f.Add(411, "text/html", []byte(`<html><head><title>411 Length Required</title></head></html>`))
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		e := decodeError("GET /v1/me", status, ctype, body)
		if e.Code == "" || e.StatusCode != status {
			t.Fatalf("decoded %+v", e)
		}
		if msg := e.Error(); !strings.Contains(msg, "GET /v1/me") {
			t.Fatalf("error %q does not name the call", msg)
		}
		if status == 413 && !IsTooLarge(e) {
			t.Fatalf("a 413 is not IsTooLarge: %+v", e)
		}
		if IsRequestLevel(e) && (status != 400 || IsParserProblem(e)) {
			t.Fatalf("IsRequestLevel(%+v)", e)
		}
	})
}

// FuzzDecodeExtraction: API answers decode or fail cleanly, and a decoded
// document keeps its raw bytes.
func FuzzDecodeExtraction(f *testing.F) {
	f.Add([]byte(`{"extraction":{"extraction_id":"ext_1","status":"completed","documents":[{"document_id":"d","status":"completed","extracted_data":{"a":1}}]}}`))
	f.Add([]byte(`{"extractions":[{"extraction_id":"e","document_summary":{"total":2}}],"pagination":{"has_next_page":true,"next_cursor":"x"}}`))
	f.Add([]byte(`{"extraction":{"documents":[{"filename":"../../etc/passwd"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var env apitypes.ExtractionEnvelope
		if json.Unmarshal(b, &env) == nil {
			for _, d := range env.Extraction.Documents {
				if d.Raw() == nil {
					t.Fatal("decoded document without raw bytes")
				}
			}
		}
		var list apitypes.ExtractionList
		_ = json.Unmarshal(b, &list)
	})
}
