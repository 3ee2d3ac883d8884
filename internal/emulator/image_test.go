package emulator_test

import (
	"fmt"
	"testing"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
)

func receiptPhoto(t *testing.T, n int) file {
	t.Helper()
	b, err := samples.ReceiptJPEG(samples.GenerateReceipt(42, n))
	if err != nil {
		t.Fatal(err)
	}
	return file{name: fmt.Sprintf("receipt-%d.jpg", n), data: b}
}

// An image costs one credit and yields receipt data in the parser's shape,
// the same for the same image and different for another one.
func TestImagesChargeOneCreditAndYieldReceiptData(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	png, err := samples.ReceiptPNG(samples.GenerateReceipt(42, 9))
	if err != nil {
		t.Fatal(err)
	}
	webp := file{name: "tiny.webp", data: []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")}
	a := h.submit("prs_invoice", nil, receiptPhoto(t, 1), receiptPhoto(t, 2), file{name: "scan.png", data: png}, webp, invoice(t, 1, 3))
	if a.status != 202 {
		t.Fatalf("submit: %d %s", a.status, a.raw)
	}
	x := a.obj("extraction")
	if x["page_count"] != 7.0 || x["credits_used"] != 7.0 {
		t.Fatalf("four images and a 3-page PDF: page_count %v credits_used %v, want 7", x["page_count"], x["credits_used"])
	}
	id := x["extraction_id"].(string)
	h.waitStatus(id, "completed")
	res := h.get("/v1/extractions/" + id + "/results")
	byName := map[string]map[string]any{}
	for _, d := range res.obj("extraction")["documents"].([]any) {
		d := d.(map[string]any)
		byName[d["filename"].(string)] = d
	}
	types := map[string]string{"receipt-1.jpg": "image/jpeg", "receipt-2.jpg": "image/jpeg", "scan.png": "image/png", "tiny.webp": "image/webp"}
	for name, mime := range types {
		d := byName[name]
		if d["page_count"] != 1.0 || d["credits_used"] != 1.0 || d["status"] != "completed" {
			t.Errorf("%s: %v", name, d)
			continue
		}
		data, _ := d["extracted_data"].(map[string]any)
		wantKeys(t, name+" extracted_data", data, "vendor_name", "invoice_number", "invoice_date", "total_amount", "currency", "line_items")
		items, _ := data["line_items"].([]any)
		var sum float64
		for _, it := range items {
			sum += it.(map[string]any)["amount"].(float64)
		}
		if len(items) == 0 || fmt.Sprintf("%.2f", sum) != fmt.Sprintf("%.2f", data["total_amount"]) {
			t.Errorf("%s: line items %v do not add up to the total %v", name, items, data["total_amount"])
		}
		if s, _ := data["vendor_name"].(string); s == "" {
			t.Errorf("%s: no merchant: %v", name, data)
		}
		doc := h.get("/v1/extractions/" + id + "/documents/" + d["document_id"].(string)).obj("document")
		if doc["file_type"] != mime {
			t.Errorf("%s: file_type %v, want %s", name, doc["file_type"], mime)
		}
	}
	r1 := byName["receipt-1.jpg"]["extracted_data"].(map[string]any)
	r2 := byName["receipt-2.jpg"]["extracted_data"].(map[string]any)
	if fmt.Sprint(r1) == fmt.Sprint(r2) {
		t.Errorf("two different photos gave the same data: %v", r1)
	}

	// The same photo again, in another job, gives the same data.
	b := h.submit("prs_invoice", nil, receiptPhoto(t, 1))
	id2 := b.obj("extraction")["extraction_id"].(string)
	h.waitStatus(id2, "completed")
	again := h.get("/v1/extractions/" + id2 + "/results").obj("extraction")["documents"].([]any)[0].(map[string]any)["extracted_data"]
	if fmt.Sprint(again) != fmt.Sprint(r1) {
		t.Errorf("same photo, different data:\n%v\n%v", again, r1)
	}
	if s := h.emu.Stats(); s.PagesCharged != 8 {
		t.Errorf("pages charged %d, want 8", s.PagesCharged)
	}

	heic := file{name: "photo.heic", data: append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 64)...)}
	wantError(t, "HEIC", h.submit("prs_invoice", nil, heic), 400, "UNSUPPORTED_FILE_TYPE")
}
