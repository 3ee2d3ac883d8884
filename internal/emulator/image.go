package emulator

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// The emulator cannot read text from a photo. For an image it makes up a
// till receipt derived from the file's sha256 instead: the same image always
// gives the same data, different images different data, and the receipt is
// written as the text lines the invoice extractor reads, so image results
// have exactly the shape of the parser's schema, like PDF results.

var (
	receiptMerchants = []string{"Corner Cafe", "City Hardware", "Fresh Market", "Parking Central", "Bistro Lumiere", "Office Depot 24", "Taxi Blue", "Hotel Aurora"}
	receiptGoods     = []string{"Cappuccino", "Croissant", "Screws M4 (100)", "Printer paper", "Parking 2h", "Lunch menu", "Water 0.5l", "Cab fare", "Room night", "Notebook A5"}
	receiptCurrency  = []string{"EUR", "EUR", "EUR", "USD", "GBP", "CHF"}
)

// imageAnalysis is what the emulator learns from an uploaded image: one page
// (one credit) and the lines of a receipt derived from its content.
func imageAnalysis(f *os.File, mime string) (analysis, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return analysis{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return analysis{}, err
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return analysis{mime: mime, pages: 1, text: receiptLines(sum)}, nil
}

// receiptLines writes the receipt that sum stands for.
func receiptLines(sum [sha256.Size]byte) []string {
	u := func(i int) int { return int(binary.BigEndian.Uint16(sum[i : i+2])) }
	lines := []string{
		"From: " + receiptMerchants[u(0)%len(receiptMerchants)],
		fmt.Sprintf("Receipt Number: R-%06d", u(2)*16+u(4)%16),
		fmt.Sprintf("Date: 2026-%02d-%02d", 1+u(6)%12, 1+u(8)%28),
	}
	cur := receiptCurrency[u(10)%len(receiptCurrency)]
	var total int
	for i := range 1 + u(12)%4 {
		cents := 150 + u(14+2*i)%6000
		total += cents
		lines = append(lines, fmt.Sprintf("%s %d.%02d", receiptGoods[u(22+2*i)%len(receiptGoods)], cents/100, cents%100))
	}
	return append(lines, fmt.Sprintf("Total: %s %d.%02d", cur, total/100, total%100))
}
