// Package samples writes realistic invoice PDFs for the demo, the tests and
// the benchmarks, with a real PDF library.
package samples

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/go-pdf/fpdf"
)

// Invoice describes one generated invoice.
type Invoice struct {
	Vendor string
	Number string
	Date   string // YYYY-MM-DD
	Items  []Item
	// Pages is the page count (at least 1); extra pages hold terms text.
	Pages int
	// Currency code printed beside the total.
	Currency string
	// Extra lines printed on the first page (e.g. a marker for the emulator).
	Extra []string
}

// Item is one invoice line.
type Item struct {
	Description string
	Amount      float64
}

// Total is the sum of the items.
func (inv Invoice) Total() float64 {
	var t float64
	for _, it := range inv.Items {
		t += it.Amount
	}
	return t
}

// PDF renders the invoice.
func (inv Invoice) PDF() ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Invoice "+inv.Number, false)
	pdf.SetCreator("ppsync samples", false)
	pages := max(inv.Pages, 1)
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 18)
	pdf.Cell(0, 10, "INVOICE")
	pdf.Ln(14)
	pdf.SetFont("Helvetica", "", 11)
	line := func(s string) {
		pdf.Cell(0, 7, s)
		pdf.Ln(7)
	}
	line("From: " + inv.Vendor)
	line("Invoice Number: " + inv.Number)
	line("Date: " + inv.Date)
	for _, x := range inv.Extra {
		line(x)
	}
	pdf.Ln(4)
	for _, it := range inv.Items {
		line(fmt.Sprintf("%s %.2f", it.Description, it.Amount))
	}
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 12)
	cur := inv.Currency
	if cur == "" {
		cur = "EUR"
	}
	line(fmt.Sprintf("Total: %s %.2f", cur, inv.Total()))
	for p := 2; p <= pages; p++ {
		pdf.AddPage()
		pdf.SetFont("Helvetica", "", 10)
		line(fmt.Sprintf("Terms and conditions, page %d of %d", p, pages))
		line("Payment is due within 30 days of the invoice date.")
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", inv.Number, err)
	}
	return buf.Bytes(), nil
}

// WriteFile renders the invoice to path (0644).
func (inv Invoice) WriteFile(path string) error {
	b, err := inv.PDF()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

var (
	vendors = []string{"Acme Corp", "Globex GmbH", "Initech Ltd", "Umbrella Supplies", "Stark Office Services", "Wayne Logistics"}
	goods   = []string{"Cloud Servers", "Support Tier 1", "Office Chairs", "Printer Toner", "Consulting Hours", "Software Licence", "Shipping", "Paper A4 (10 boxes)"}
)

// Generate makes invoice n of a reproducible series (seeded by seed).
func Generate(seed uint64, n int, pages int) Invoice {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	inv := Invoice{
		Vendor: vendors[r.IntN(len(vendors))],
		Number: fmt.Sprintf("INV-2026-%05d", n),
		Date:   fmt.Sprintf("2026-%02d-%02d", 1+r.IntN(12), 1+r.IntN(28)),
		Pages:  pages,
	}
	for range 1 + r.IntN(4) {
		amt := float64(r.IntN(200000)) / 100
		inv.Items = append(inv.Items, Item{Description: goods[r.IntN(len(goods))], Amount: amt})
	}
	return inv
}
