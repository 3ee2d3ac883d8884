package samples_test

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/samples"
)

func TestReceiptPhoto(t *testing.T) {
	r := samples.GenerateReceipt(7, 3)
	if len(r.Items) < 2 {
		t.Fatalf("receipt has %d items", len(r.Items))
	}
	a, err := samples.ReceiptJPEG(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := samples.ReceiptJPEG(samples.GenerateReceipt(7, 3))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the same receipt rendered twice gives different bytes")
	}
	other, err := samples.ReceiptJPEG(samples.GenerateReceipt(7, 4))
	if err != nil || bytes.Equal(a, other) {
		t.Fatalf("different receipts must differ (err %v)", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 600 || b.Dy() != 900 {
		t.Fatalf("photo is %v", b)
	}
	// The paper in the middle is much lighter than the table at the edge.
	lum := func(x, y int) uint32 { r, g, b, _ := img.At(x, y).RGBA(); return (r + g + b) / 3 >> 8 }
	if paper, table := lum(300, 450), lum(5, 5); paper < table+40 {
		t.Fatalf("paper %d vs table %d: no receipt visible", paper, table)
	}
	p, err := samples.ReceiptPNG(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(p)); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(r.Lines(), "\n")
	for _, want := range []string{strings.ToUpper(r.Merchant), r.Date, "TOTAL EUR"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt text lacks %q:\n%s", want, text)
		}
	}
}
