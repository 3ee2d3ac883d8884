package pdfcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
)

// A linearized PDF has a first %%EOF after its first page: a copy paused
// there ends in %%EOF but is not complete. Its linearization dictionary
// says how long the whole file is.
func TestMissingLinearizedRest(t *testing.T) {
	qpdf := needQPDF(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	if err := os.WriteFile(src, pdftest.PDF(30, pdftest.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	lin := filepath.Join(dir, "lin.pdf")
	if b, err := exec.Command(qpdf, "--linearize", src, lin).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	whole, err := os.ReadFile(lin)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Index(whole, []byte("%%EOF"))
	if first < 0 || first+len("%%EOF\n") >= len(whole) {
		t.Fatalf("qpdf wrote no early %%%%EOF (first at %d of %d)", first, len(whole))
	}
	firstPart := whole[:first+len("%%EOF\n")]
	for _, tc := range []struct {
		name    string
		data    []byte
		missing string // "" complete, else a word of the reason
	}{
		{"whole", whole, ""},
		{"paused after its first %%EOF", firstPart, "linearization"},
		{"cut in the middle", whole[:len(whole)*2/3], "linearization"},
		{"updated incrementally after linearizing", append(append([]byte{}, whole...), "\n% update\n%%EOF\n"...), ""},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pdf")
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Missing(p)
		if err != nil {
			t.Fatal(err)
		}
		if (got == "") != (tc.missing == "") || !strings.Contains(got, tc.missing) {
			t.Errorf("%s: missing %q, want %q", tc.name, got, tc.missing)
		}
	}
}
