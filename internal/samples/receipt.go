package samples

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Receipt is a shop till receipt, rendered as a phone photo.
type Receipt struct {
	Merchant string
	Address  string
	Number   string
	Date     string // YYYY-MM-DD
	Time     string // HH:MM
	Currency string
	Items    []Item
	// Seed drives the photo's lighting, angle and noise.
	Seed uint64
}

// Total is the sum of the items.
func (r Receipt) Total() float64 {
	var t float64
	for _, it := range r.Items {
		t += it.Amount
	}
	return t
}

var (
	merchants = []string{"Corner Cafe", "City Hardware", "Fresh Market", "Parking Central", "Bistro Lumiere", "Office Depot 24"}
	streets   = []string{"12 High Street", "4 Rue de la Gare", "88 Market Square", "7 Station Road"}
	buys      = []string{"Cappuccino", "Croissant", "Screws M4 (100)", "Printer paper", "Parking 2h", "Lunch menu", "Water 0.5l", "Notebook A5"}
)

// GenerateReceipt makes receipt n of a reproducible series (seeded by seed).
func GenerateReceipt(seed uint64, n int) Receipt {
	r := rand.New(rand.NewPCG(seed^0x5eceed, uint64(n)))
	rc := Receipt{
		Merchant: merchants[r.IntN(len(merchants))],
		Address:  streets[r.IntN(len(streets))],
		Number:   fmt.Sprintf("R-%06d", 1000+n*37+r.IntN(999)),
		Date:     fmt.Sprintf("2026-%02d-%02d", 1+r.IntN(12), 1+r.IntN(28)),
		Time:     fmt.Sprintf("%02d:%02d", 8+r.IntN(12), r.IntN(60)),
		Currency: "EUR",
		Seed:     seed<<16 ^ uint64(n),
	}
	for range 2 + r.IntN(4) {
		rc.Items = append(rc.Items, Item{Description: buys[r.IntN(len(buys))], Amount: float64(50+r.IntN(4000)) / 100})
	}
	return rc
}

// Lines is the receipt's printed text, top to bottom.
func (r Receipt) Lines() []string {
	const width = 28
	row := func(l, rt string) string {
		pad := max(width-len(l)-len(rt), 1)
		return l + strings.Repeat(" ", pad) + rt
	}
	center := func(s string) string { return strings.Repeat(" ", max((width-len(s))/2, 0)) + s }
	lines := []string{center(strings.ToUpper(r.Merchant)), center(r.Address), "", row("Receipt "+r.Number, ""), row(r.Date, r.Time), strings.Repeat("-", width)}
	for _, it := range r.Items {
		lines = append(lines, row(it.Description, fmt.Sprintf("%.2f", it.Amount)))
	}
	lines = append(lines, strings.Repeat("-", width), row("TOTAL "+r.Currency, fmt.Sprintf("%.2f", r.Total())), "", center("Thank you!"))
	return lines
}

// Image draws the receipt as a phone photo of it lying on a table: a warm
// background, a slightly slanted paper strip with a shadow, uneven light and
// sensor noise. The same receipt always gives the same pixels.
func (r Receipt) Image() image.Image {
	const W, H = 600, 900
	rng := rand.New(rand.NewPCG(r.Seed, 0x9407))
	// The paper, printed flat: text at 2× the 7×13 font.
	lines := r.Lines()
	const scale, lh, margin = 2, 17, 14
	pw, ph := 28*7*scale+2*margin, len(lines)*lh*scale+2*margin
	paper := image.NewRGBA(image.Rect(0, 0, pw, ph))
	draw.Draw(paper, paper.Bounds(), &image.Uniform{color.RGBA{250, 248, 240, 255}}, image.Point{}, draw.Src)
	small := image.NewRGBA(image.Rect(0, 0, 28*7, len(lines)*lh))
	draw.Draw(small, small.Bounds(), image.Transparent, image.Point{}, draw.Src)
	d := font.Drawer{Dst: small, Src: &image.Uniform{color.RGBA{40, 40, 50, 255}}, Face: basicfont.Face7x13}
	for i, l := range lines {
		d.Dot = fixed.P(0, i*lh+12)
		d.DrawString(l)
	}
	for y := range small.Bounds().Dy() * scale {
		for x := range small.Bounds().Dx() * scale {
			if _, _, _, a := small.At(x/scale, y/scale).RGBA(); a > 0 {
				paper.Set(margin+x, margin+y, small.At(x/scale, y/scale))
			}
		}
	}
	// The photo: table, shadow, slanted paper, light falloff, noise.
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	ox, oy := (W-pw)/2, (H-ph)/2
	slant := 0.04 + rng.Float64()*0.04 // horizontal shift per row
	for y := range H {
		shift := int(float64(y-H/2) * slant)
		for x := range W {
			// wood-like table: stripes plus noise
			g := 120 + int(18*float64((x+y/3)%47)/47) + rng.IntN(9)
			c := color.RGBA{uint8(g + 40), uint8(g + 10), uint8(g - 30), 255}
			px, py := x-ox-shift, y-oy
			switch {
			case px >= 0 && px < pw && py >= 0 && py < ph:
				p := paper.RGBAAt(px, py)
				c = color.RGBA{p.R, p.G, p.B, 255}
			case px >= 6 && px < pw+6 && py >= 8 && py < ph+8:
				c = color.RGBA{c.R / 2, c.G / 2, c.B / 2, 255} // shadow
			}
			// light from the top left, sensor noise
			light := 1.05 - 0.25*float64(x+y)/float64(W+H)
			n := rng.IntN(11) - 5
			img.SetRGBA(x, y, color.RGBA{clamp(float64(c.R)*light + float64(n)), clamp(float64(c.G)*light + float64(n)), clamp(float64(c.B)*light + float64(n)), 255})
		}
	}
	return img
}

func clamp(v float64) uint8 {
	return uint8(min(max(v, 0), 255))
}

// ReceiptJPEG renders the receipt as a phone camera would save it.
func ReceiptJPEG(r Receipt) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, r.Image(), &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("render receipt %s as JPEG: %w", r.Number, err)
	}
	return buf.Bytes(), nil
}

// ReceiptPNG renders the receipt as a screenshot-style PNG.
func ReceiptPNG(r Receipt) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, r.Image()); err != nil {
		return nil, fmt.Errorf("render receipt %s as PNG: %w", r.Number, err)
	}
	return buf.Bytes(), nil
}

// WriteJPEG writes the receipt photo to path (0644), e.g. for the demo inbox.
func (r Receipt) WriteJPEG(path string) error {
	b, err := ReceiptJPEG(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write receipt photo %s: %w", path, err)
	}
	return nil
}
