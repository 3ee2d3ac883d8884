package pdfcheck_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/samples"
)

func file(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func invoice(t testing.TB, pages int) []byte {
	t.Helper()
	b, err := samples.Generate(3, 1, pages).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspect(t *testing.T) {
	good := invoice(t, 3)
	info, err := pdfcheck.Inspect(file(t, "ok.pdf", good), pdfcheck.Options{})
	if err != nil || info.Pages != 3 || len(info.SHA256) != 64 || info.Size != int64(len(good)) {
		t.Fatalf("good: %+v %v", info, err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		max  int64
		code string
	}{
		{"empty", nil, 0, pdfcheck.CodeEmpty},
		{"text", []byte("hello"), 0, pdfcheck.CodeNotPDF},
		{"png renamed", []byte("\x89PNG\r\n\x1a\nxxxx"), 0, pdfcheck.CodeNotPDF},
		{"truncated", good[:len(good)/2], 0, pdfcheck.CodeTruncated},
		{"garbage with eof", []byte("%PDF-1.4\ngarbage\n%%EOF\n"), 0, pdfcheck.CodePageCount},
		{"too large", good, 100, pdfcheck.CodeTooLarge},
	} {
		_, err := pdfcheck.Inspect(file(t, tc.name+".pdf", tc.data), pdfcheck.Options{MaxSize: tc.max})
		var p *pdfcheck.Problem
		if !errors.As(err, &p) || p.Code != tc.code || p.Message == "" {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := pdfcheck.Inspect(filepath.Join(t.TempDir(), "missing.pdf"), pdfcheck.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestPasswordProtectedPDF(t *testing.T) {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qpdf is required in CI")
		}
		t.Skip("SKIPPED: qpdf not installed (apt-get install qpdf); CI installs it")
	}
	src := file(t, "src.pdf", invoice(t, 1))
	locked := filepath.Join(t.TempDir(), "locked.pdf")
	if out, err := exec.Command(qpdf, "--encrypt", "user-pw", "owner-pw", "256", "--", src, locked).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, out)
	}
	_, err = pdfcheck.Inspect(locked, pdfcheck.Options{})
	var p *pdfcheck.Problem
	if !errors.As(err, &p) || p.Code != pdfcheck.CodeEncrypted {
		t.Fatalf("err = %v, want %s", err, pdfcheck.CodeEncrypted)
	}
	open := filepath.Join(t.TempDir(), "open.pdf")
	if out, err := exec.Command(qpdf, "--encrypt", "", "owner-pw", "256", "--", src, open).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, out)
	}
	if info, err := pdfcheck.Inspect(open, pdfcheck.Options{}); err != nil || info.Pages != 1 {
		t.Fatalf("empty user password: %+v %v", info, err)
	}
}

func TestIncomplete(t *testing.T) {
	good := invoice(t, 1)
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"complete", good, false},
		{"half", good[:len(good)/2], true},
		{"not a pdf", []byte("plain text"), false},
		{"trailing junk after eof", append(append([]byte{}, good...), make([]byte, 200)...), false},
	} {
		got, err := pdfcheck.Incomplete(file(t, tc.name, tc.data))
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(invoice(f, 1))
	f.Add([]byte("%PDF-1.4\n%%EOF"))
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%%EOF"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.pdf")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := pdfcheck.Inspect(p, pdfcheck.Options{})
		var pr *pdfcheck.Problem
		if err != nil && !errors.As(err, &pr) {
			t.Fatalf("non-problem error on readable file: %v", err)
		}
		if err == nil && info.Pages <= 0 {
			t.Fatalf("accepted with %d pages", info.Pages)
		}
	})
}
