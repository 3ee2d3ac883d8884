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
