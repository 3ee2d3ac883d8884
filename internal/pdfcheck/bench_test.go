package pdfcheck_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/ppsync/ppsync/internal/pdfcheck"
)

func BenchmarkHashFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big.bin")
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := pdfcheck.HashFile(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInspectInvoice(b *testing.B) {
	p := file(b, "inv.pdf", invoice(b, 3))
	for b.Loop() {
		if _, err := pdfcheck.Inspect(p, pdfcheck.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// oneBigStream is a PDF of about want bytes that is mostly one stream, as
// scanners write them: an fpdf invoice and an incremental update holding
// one stream object of pseudo-random bytes.
func oneBigStream(tb testing.TB, want int) []byte {
	tb.Helper()
	b := invoice(tb, 1)
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(b)
	sm := regexp.MustCompile(`/Size\s+(\d+)`).FindAllSubmatch(b, -1)
	rm := regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`).FindAllSubmatch(b, -1)
	if m == nil || sm == nil || rm == nil {
		tb.Fatal("the invoice has no startxref, /Size or /Root")
	}
	size, _ := strconv.Atoi(string(sm[len(sm)-1][1]))
	pad := max(want-len(b)-300, 0)
	var out bytes.Buffer
	out.Write(b)
	if !bytes.HasSuffix(b, []byte("\n")) {
		out.WriteByte('\n')
	}
	off := out.Len()
	fmt.Fprintf(&out, "%d 0 obj\n<< /Length %d >>\nstream\n", size, pad)
	x := uint64(88172645463325252)
	for range pad {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out.WriteByte(byte(x))
	}
	out.WriteString("\nendstream\nendobj\n")
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		size, off, size+1, rm[len(rm)-1][1], m[1], xref)
	return out.Bytes()
}

// BenchmarkInspectOneBigStream is Inspect on a 2 MB PDF that is mostly one
// stream (the files of the local-limit bench scenario).
func BenchmarkInspectOneBigStream(b *testing.B) {
	data := oneBigStream(b, 2_000_000)
	p := file(b, "big.pdf", data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := pdfcheck.Inspect(p, pdfcheck.Options{})
		if err != nil || info.Pages != 1 {
			b.Fatal(info, err)
		}
	}
}
