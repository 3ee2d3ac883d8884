package results_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/errcode"
	"github.com/ppsync/ppsync/internal/results"
)

// TestErrorFileCarriesTheFix: an error file names, beside the code and the
// message, the catalogue's fix and whether credits were spent; a code the
// catalogue does not know gets neither.
func TestErrorFileCarriesTheFix(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		code    string
		fix     bool
		charged bool
	}{
		{"NOT_A_PDF", true, false},
		{"EXTRACTION_FAILED", true, true},
		{"HTTP_502", true, false},
		{"SOMETHING_NEW", false, false},
	}
	for _, tt := range tests {
		file := filepath.Join(dir, tt.code+".pdf")
		out, err := results.WriteError(file, tt.code, "the message", results.Source{Path: file})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var got results.ErrorFile
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		e, _ := errcode.Lookup(tt.code)
		switch {
		case got.Error.Code != tt.code || got.Error.Message != "the message":
			t.Errorf("%s: error %+v", tt.code, got.Error)
		case !tt.fix && (got.Error.Fix != "" || got.Error.Charged != nil):
			t.Errorf("%s: an unknown code got advice: %s", tt.code, b)
		case tt.fix && (got.Error.Fix != e.Fix || got.Error.Fix == "" || got.Error.Charged == nil || *got.Error.Charged != tt.charged):
			t.Errorf("%s: want the catalogue's fix %q and charged %v:\n%s", tt.code, e.Fix, tt.charged, b)
		}
	}
}
