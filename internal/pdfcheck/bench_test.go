package pdfcheck_test

import (
	"os"
	"path/filepath"
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

// BenchmarkInspectOneBigStream is Inspect on a 2 MB PDF that is mostly one
// stream (the files of the local-limit bench scenario).
func BenchmarkInspectOneBigStream(b *testing.B) {
	data := pdfcheck.OneBigStream(b, 2_000_000)
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
