package pdfcheck

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
	"github.com/ppsync/ppsync/internal/samples"
)

func invoicePDF(t testing.TB, pages int) []byte {
	t.Helper()
	b, err := samples.Generate(7, 1, pages).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCountPages reads the page tree of the files ppsync meets, in every
// layout the counter supports, without pdfcpu.
func TestCountPages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		limit  int64
		pages  int64
		walked bool
	}{
		{"fpdf invoice", invoicePDF(t, 3), 0, 3, true},
		{"flat tree", pdftest.PDF(5, pdftest.Options{}), 0, 5, true},
		{"deep tree", pdftest.PDF(1000, pdftest.Options{Fanout: 3}), 2000, 1000, true},
		{"object streams", pdftest.PDF(1000, pdftest.Options{Fanout: 10, Compressed: true}), 2000, 1000, true},
		{"object streams, flat", pdftest.PDF(300, pdftest.Options{Compressed: true}), 2000, 300, true},
	} {
		pc, err := countPages(bytes.NewReader(tc.data), int64(len(tc.data)), tc.limit)
		if err != nil || pc.pages != tc.pages || pc.walked != tc.walked {
			t.Errorf("%s: %+v %v, want %d pages, walked %v", tc.name, pc, err, tc.pages, tc.walked)
		}
	}
}

func TestCountPagesLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		limit int64
		want  int64 // pages reported with errTooMany
	}{
		{"root says too many", pdftest.PDF(3000, pdftest.Options{Fanout: 50}), 2000, 3000},
		{"compressed, root says too many", pdftest.PDF(3000, pdftest.Options{Fanout: 50, Compressed: true}), 2000, 3000},
		{"root lies low, the walk stops", pdftest.PDF(3000, pdftest.Options{Count: 2}), 2000, 2001},
		{"exactly the limit is fine", pdftest.PDF(2000, pdftest.Options{}), 2000, 0},
	} {
		pc, err := countPages(bytes.NewReader(tc.data), int64(len(tc.data)), tc.limit)
		switch {
		case tc.want == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != 0 && (!errors.Is(err, errTooMany) || pc.pages != tc.want):
			t.Errorf("%s: %+v %v, want errTooMany with %d pages", tc.name, pc, err, tc.want)
		}
	}
}

func TestCountPagesDamaged(t *testing.T) {
	good := pdftest.PDF(4, pdftest.Options{})
	lying := pdftest.PDF(4, pdftest.Options{Count: 7})
	badOffset := bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n1"), 1)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"no startxref", []byte("%PDF-1.4\ngarbage\n%%EOF\n"), "no startxref"},
		{"startxref past the end", badOffset, "outside the file"},
		{"root count lies", lying, "root says 7 pages but the tree holds 4"},
		{"tree loops", loop(t), "deeper than"},
	} {
		_, err := countPages(bytes.NewReader(tc.data), int64(len(tc.data)), 0)
		if !errors.Is(err, errSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a syntax error with %q", tc.name, err, tc.want)
		}
	}
}

// loop is a page tree whose node is its own kid.
func loop(t testing.TB) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	off1 := b.Len()
	b.WriteString("1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
	off2 := b.Len()
	b.WriteString("2 0 obj\n<</Type/Pages/Kids[2 0 R]/Count 1>>\nendobj\n")
	x := b.Len()
	b.WriteString("xref\n0 3\n0000000000 65535 f \n")
	for _, o := range []int{off1, off2} {
		b.WriteString(pad(o) + " 00000 n \n")
	}
	b.WriteString("trailer\n<</Size 3/Root 1 0 R>>\nstartxref\n" + strconv.Itoa(x) + "\n%%EOF\n")
	return b.Bytes()
}

func pad(n int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", 10-len(s)) + s
}

// TestCountPagesQPDF reads what qpdf writes: object and cross-reference
// streams, linearized files, incremental-looking rewrites, and encrypted
// files (whose page tree is readable without the password when it is not
// in object streams).
func TestCountPagesQPDF(t *testing.T) {
	qpdf := needQPDF(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	if err := os.WriteFile(src, pdftest.PDF(120, pdftest.Options{Fanout: 7}), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inv.pdf")
	if err := os.WriteFile(inv, invoicePDF(t, 4), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		in    string
		args  []string
		pages int64
		err   error
	}{
		{"object streams", src, []string{"--object-streams=generate"}, 120, nil},
		{"linearized", src, []string{"--linearize"}, 120, nil},
		{"linearized with object streams", inv, []string{"--linearize", "--object-streams=generate"}, 4, nil},
		{"qdf", inv, []string{"--qdf"}, 4, nil},
		{"encrypted, no object streams", inv, []string{"--object-streams=disable", "--encrypt", "", "owner", "256", "--"}, 4, nil},
		{"encrypted, object streams", src, []string{"--object-streams=generate", "--encrypt", "u", "owner", "256", "--"}, 0, errEncryptedStream},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".pdf")
		args := append(append([]string{}, tc.args...), tc.in, out)
		if b, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: qpdf %v: %v %s", tc.name, args, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := countPages(bytes.NewReader(b), int64(len(b)), 2000)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || pc.pages != tc.pages || !pc.walked {
			t.Errorf("%s: %+v %v, want %d pages", tc.name, pc, err, tc.pages)
		}
	}
}

func needQPDF(t *testing.T) string {
	t.Helper()
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qpdf is required in CI")
		}
		t.Skip("SKIPPED: qpdf not installed (apt-get install qpdf); CI installs it")
	}
	return qpdf
}

// TestPDFTestValid has qpdf check the generated files the tests rely on.
func TestPDFTestValid(t *testing.T) {
	qpdf := needQPDF(t)
	for _, o := range []pdftest.Options{{}, {Fanout: 10}, {Fanout: 10, Compressed: true}} {
		p := filepath.Join(t.TempDir(), "gen.pdf")
		if err := os.WriteFile(p, pdftest.PDF(500, o), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(qpdf, "--check", p).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
			t.Errorf("%+v: qpdf --check: %v %s", o, err, out)
		}
		n, err := exec.Command(qpdf, "--show-npages", p).Output()
		if err != nil || strings.TrimSpace(string(n)) != "500" {
			t.Errorf("%+v: qpdf --show-npages: %q %v", o, n, err)
		}
	}
}

// FuzzCountPages: whatever the bytes, the counter returns (it never panics
// or loops), and a count it accepts is positive.
func FuzzCountPages(f *testing.F) {
	f.Add(pdftest.PDF(3, pdftest.Options{}))
	f.Add(pdftest.PDF(12, pdftest.Options{Fanout: 3, Compressed: true}))
	f.Add(invoicePDF(f, 1))
	f.Add(loop(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		pc, err := countPages(bytes.NewReader(b), int64(len(b)), 50)
		if err == nil && pc.pages < 0 {
			t.Fatalf("accepted %d pages", pc.pages)
		}
		if err == nil && pc.walked && pc.objects <= deepCheckObjects {
			_ = pc.doc.sweep() // returns, whatever it finds
		}
	})
}
