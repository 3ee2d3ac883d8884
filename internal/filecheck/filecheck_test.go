package filecheck_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/samples"
)

// Tiny WebP files (1×1 pixel), lossless (VP8L) and lossy (VP8): Go has no
// WebP encoder, so they are embedded.
var (
	webpLossless = mustB64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	webpLossy    = mustB64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 255})
		}
	}
	return img
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, picture(40, 30)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, picture(40, 30), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pdfBytes(t testing.TB, pages int) []byte {
	t.Helper()
	b, err := samples.Generate(5, 1, pages).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmbeddedWebPDecode(t *testing.T) {
	for name, b := range map[string][]byte{"lossless": webpLossless, "lossy": webpLossy} {
		if _, err := webp.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: the embedded sample does not decode: %v", name, err)
		}
	}
}

func TestInspectAccepts(t *testing.T) {
	receipt, err := samples.ReceiptJPEG(samples.GenerateReceipt(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		kind  filecheck.Kind
		ctype string
		pages int
		w, h  int
	}{
		{"invoice.pdf", pdfBytes(t, 3), filecheck.KindPDF, "application/pdf", 3, 0, 0},
		{"scan.PNG", pngBytes(t), filecheck.KindPNG, "image/png", 1, 40, 30},
		{"photo.jpg", jpegBytes(t), filecheck.KindJPEG, "image/jpeg", 1, 40, 30},
		{"photo.jpeg", jpegBytes(t), filecheck.KindJPEG, "image/jpeg", 1, 40, 30},
		{"receipt.jpg", receipt, filecheck.KindJPEG, "image/jpeg", 1, 0, 0},
		{"tiny.webp", webpLossless, filecheck.KindWebP, "image/webp", 1, 1, 1},
		{"lossy.webp", webpLossy, filecheck.KindWebP, "image/webp", 1, 1, 1},
		{"trailing.jpg", append(jpegBytes(t), "trailer data after EOI"...), filecheck.KindJPEG, "image/jpeg", 1, 40, 30},
		{"trailing.png", append(pngBytes(t), 0, 0, 0), filecheck.KindPNG, "image/png", 1, 40, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := filecheck.Inspect(write(t, tc.name, tc.data), filecheck.Options{})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if info.Kind != tc.kind || info.ContentType != tc.ctype || info.Pages != tc.pages ||
				info.Size != int64(len(tc.data)) || len(info.SHA256) != 64 {
				t.Fatalf("info = %+v", info)
			}
			if tc.w > 0 && (info.Width != tc.w || info.Height != tc.h) {
				t.Fatalf("dimensions %d×%d, want %d×%d", info.Width, info.Height, tc.w, tc.h)
			}
			c, err := filecheck.Complete(write(t, tc.name, tc.data))
			if err != nil || !c.Complete || c.Kind != tc.kind {
				t.Fatalf("Complete = %+v, %v", c, err)
			}
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	pngb, jpgb := pngBytes(t), jpegBytes(t)
	heic := append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...)
	jpegNoEOI := jpgb[:len(jpgb)-2]
	for _, tc := range []struct {
		name    string
		data    []byte
		opts    filecheck.Options
		code    string
		inMsg   string
		settled bool // Complete says the writer is done
	}{
		{"empty.png", nil, filecheck.Options{}, filecheck.CodeEmpty, "empty", false},
		{"big.png", pngb, filecheck.Options{MaxSize: 10}, filecheck.CodeTooLarge, "max_file_size", true},
		{"half.png", pngb[:len(pngb)/2], filecheck.Options{}, filecheck.CodeTruncated, "IEND", false},
		{"noiend.png", pngb[:len(pngb)-12], filecheck.Options{}, filecheck.CodeTruncated, "IEND", false},
		{"sig-only.png", pngb[:8], filecheck.Options{}, filecheck.CodeTruncated, "cut short", false},
		{"half.jpg", jpgb[:len(jpgb)/2], filecheck.Options{}, filecheck.CodeTruncated, "end-of-image", false},
		{"noeoi.jpg", jpegNoEOI, filecheck.Options{}, filecheck.CodeTruncated, "end-of-image", false},
		{"header.jpg", jpgb[:20], filecheck.Options{}, filecheck.CodeTruncated, "drop a complete copy", false},
		{"half.webp", webpLossless[:len(webpLossless)-5], filecheck.Options{}, filecheck.CodeTruncated, "WebP", false},
		{"photo.heic", heic, filecheck.Options{}, filecheck.CodeUnsupported, "Settings → Camera → Formats → Most Compatible", true},
		{"photo-heic-named.jpg", heic, filecheck.Options{}, filecheck.CodeUnsupported, "HEIC", true},
		{"broken.heic", []byte("not really"), filecheck.Options{}, filecheck.CodeUnsupported, "HEIC", true},
		{"scan.tiff", []byte("II*\x00\x08\x00\x00\x00rest of a tiff"), filecheck.Options{}, filecheck.CodeUnsupported, "TIFF", true},
		{"anim.gif", []byte("GIF89a\x01\x00\x01\x00rest"), filecheck.Options{}, filecheck.CodeUnsupported, "PNG", true},
		{"pic.bmp", append([]byte("BM"), make([]byte, 60)...), filecheck.Options{}, filecheck.CodeUnsupported, "BMP", true},
		{"notes.txt", []byte("hello"), filecheck.Options{}, filecheck.CodeUnsupported, "accepts only", true},
		{"garbage.jpg", []byte("this is text"), filecheck.Options{}, filecheck.CodeDamaged, "JPEG", true},
		{"png-named.jpg", pngb, filecheck.Options{}, filecheck.CodeMismatch, "rename it to .png", true},
		{"pdf-only.png", pngb, filecheck.Options{Types: []string{"*.pdf"}}, filecheck.CodeUnsupported, "*.pdf", true},
		{"text.pdf", []byte("hello"), filecheck.Options{}, "NOT_A_PDF", "", true},
		{"half.pdf", pdfBytes(t, 1)[:500], filecheck.Options{}, "TRUNCATED_PDF", "", false},
		{"bad-png-chunk.png", append(append([]byte{}, pngb[:8]...), "\x00\x00\x00\x0d\x00\x01\x02\x03"...), filecheck.Options{}, filecheck.CodeDamaged, "damaged", true},
		{"eoi-only.jpg", []byte{0xff, 0xd8, 0xff, 0xd9}, filecheck.Options{}, filecheck.CodeDamaged, "damaged", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.name, tc.data)
			info, err := filecheck.Inspect(p, tc.opts)
			var pr *filecheck.Problem
			if !errors.As(err, &pr) || pr.Code != tc.code || !strings.Contains(pr.Message, tc.inMsg) {
				t.Fatalf("err = %v, want %s containing %q", err, tc.code, tc.inMsg)
			}
			if len(tc.data) > 0 && tc.code != filecheck.CodeTooLarge && (len(info.SHA256) != 64 || info.Size != int64(len(tc.data))) {
				t.Errorf("a refused file still needs its hash and size: %+v", info)
			}
			c, err := filecheck.Complete(p)
			if err != nil || c.Complete != tc.settled {
				t.Errorf("Complete = %+v, %v; want complete=%v", c, err, tc.settled)
			}
			if !c.Complete && c.Missing == "" {
				t.Errorf("an incomplete file must say what is missing: %+v", c)
			}
		})
	}
	if _, err := filecheck.Inspect(filepath.Join(t.TempDir(), "gone.png"), filecheck.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestCompleteWhileWriting grows a file byte range by byte range, the way a
// slow copy does: it is incomplete at every cut and complete at the end.
func TestCompleteWhileWriting(t *testing.T) {
	for name, data := range map[string][]byte{"a.png": pngBytes(t), "a.jpg": jpegBytes(t), "a.webp": webpLossy} {
		p := filepath.Join(t.TempDir(), name)
		step := max(len(data)/17, 1)
		for n := 1; n < len(data); n += step {
			if err := os.WriteFile(p, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			if c, err := filecheck.Complete(p); err != nil || c.Complete {
				t.Fatalf("%s cut at %d of %d: %+v %v, want incomplete", name, n, len(data), c, err)
			}
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if c, err := filecheck.Complete(p); err != nil || !c.Complete {
			t.Fatalf("%s whole: %+v %v", name, c, err)
		}
	}
}

func TestAccepted(t *testing.T) {
	for _, tc := range []struct {
		types []string
		name  string
		want  bool
	}{
		{nil, "/in/a.PDF", true},
		{nil, "/in/a.JpEg", true},
		{nil, "/in/a.webp", true},
		{nil, "/in/a.heic", false},
		{[]string{"*.pdf"}, "/in/a.png", false},
		{[]string{"*.PNG"}, "/in/a.png", true},
	} {
		if got := filecheck.Accepted(tc.types, tc.name); got != tc.want {
			t.Errorf("Accepted(%v, %s) = %v", tc.types, tc.name, got)
		}
	}
}

func FuzzInspectImage(f *testing.F) {
	f.Add(pngBytes(f))
	f.Add(jpegBytes(f))
	f.Add(webpLossless)
	f.Add(webpLossy)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range []string{"f.png", "f.jpg", "f.webp"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := filecheck.Inspect(p, filecheck.Options{})
			var pr *filecheck.Problem
			if err != nil && !errors.As(err, &pr) {
				t.Fatalf("%s: non-problem error on a readable file: %v", name, err)
			}
			if err == nil && (info.Pages != 1 || info.Width <= 0 || info.Height <= 0) {
				t.Fatalf("%s: accepted with %+v", name, info)
			}
			if _, err := filecheck.Complete(p); err != nil {
				t.Fatalf("%s: Complete failed on a readable file: %v", name, err)
			}
		}
	})
}

// The config's defaults and the formats recognised here must not drift apart.
func TestListsMatchConfig(t *testing.T) {
	if !slices.Equal(config.DefaultTypes(), filecheck.DefaultTypes()) {
		t.Errorf("types: config %v, filecheck %v", config.DefaultTypes(), filecheck.DefaultTypes())
	}
	if !slices.Equal(config.RefusedPatterns(), filecheck.RefusedPatterns()) {
		t.Errorf("refused: config %v, filecheck %v", config.RefusedPatterns(), filecheck.RefusedPatterns())
	}
	for _, p := range filecheck.RefusedPatterns() {
		name := strings.TrimPrefix(p, "*")
		_, err := filecheck.Inspect(write(t, "x"+name, []byte("unreadable content")), filecheck.Options{})
		var pr *filecheck.Problem
		if !errors.As(err, &pr) || pr.Code != filecheck.CodeUnsupported || !strings.Contains(pr.Message, "convert") {
			t.Errorf("%s: %v, want %s with advice", name, err, filecheck.CodeUnsupported)
		}
	}
}
