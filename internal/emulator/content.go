package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"
)

func init() {
	// pdfcpu otherwise writes a config directory under the user's config
	// folder on first use, which fails under a hardened service account.
	model.ConfigPath = "disable"
}

// FailMarker in a PDF's text makes the emulator fail that document during
// processing (for tests of failed documents and partial jobs).
const FailMarker = "EMULATOR-FAIL-DOCUMENT"

var errUnsupported = errors.New("unsupported file type")

// analysis is what the emulator learns from one uploaded file.
type analysis struct {
	mime  string
	pages int
	text  []string // lines of text: read from a PDF, made up for an image
}

// analyse sniffs the type and counts pages. A file that is neither a PDF nor
// a supported image is errUnsupported; a PDF whose pages cannot be counted
// returns another error (PAGE_COUNT_FAILED).
func analyse(path string) (analysis, error) {
	f, err := os.Open(path)
	if err != nil {
		return analysis{}, err
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}):
		return imageAnalysis(f, "image/png")
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return imageAnalysis(f, "image/jpeg")
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return imageAnalysis(f, "image/webp")
	case !bytes.Contains(head, []byte("%PDF-")):
		return analysis{}, errUnsupported
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return analysis{}, err
	}
	ctx, err := readPDF(f)
	if err != nil {
		return analysis{}, err
	}
	if ctx.PageCount <= 0 {
		return analysis{}, errors.New("no pages")
	}
	return analysis{mime: "application/pdf", pages: ctx.PageCount, text: pdfText(ctx)}, nil
}

// readPDF reads and validates a PDF (relaxed), as pdfcpu's api.PageCount
// does, once for both its page count and its text. It calls pdfcpu's
// reader and validator directly: its api package brings its form filler
// and a width table of every Unicode code point built when the program
// starts (2.2 MB, some 30 ms at every start of every ppsync command).
func readPDF(rs io.ReadSeeker) (ctx *model.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, fmt.Errorf("pdf reader failed: %v", r)
		}
	}()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	if ctx, err = pdfcpu.Read(rs, conf); err != nil {
		return nil, fmt.Errorf("page count: read context: %w", err)
	}
	if err := validate.XRefTable(ctx); err != nil {
		return nil, fmt.Errorf("page count: validation error (obj#:%d): %w", ctx.CurObj, err)
	}
	return ctx, nil
}

// pdfText pulls the string operands of text-showing operators out of every
// page's content stream: enough to read the invoices ppsync's demo and tests
// generate, and most simple single-byte-encoded PDFs. A page whose content
// cannot be read adds nothing, and stops the text there.
func pdfText(ctx *model.Context) (lines []string) {
	defer func() {
		if r := recover(); r != nil {
			lines = nil
		}
	}()
	if err := pdfcpu.OptimizeXRefTable(ctx); err != nil {
		return nil
	}
	for page := 1; page <= ctx.PageCount; page++ {
		r, err := pdfcpu.ExtractPageContent(ctx, page)
		if err != nil {
			return lines
		}
		if r == nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(r, 8<<20))
		if err != nil {
			return lines
		}
		lines = append(lines, contentLines(b)...)
	}
	return lines
}

// contentLines splits a content stream into text lines: each BT…ET block
// or Td/T*/'/" move starts a new line.
func contentLines(b []byte) []string {
	var lines []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '(':
			s, next := readPDFString(b, i+1)
			cur.WriteString(s)
			i = next
		case 'E':
			if i+1 < len(b) && b[i+1] == 'T' {
				flush()
			}
		case 'T':
			if i+1 < len(b) && (b[i+1] == 'd' || b[i+1] == 'D' || b[i+1] == '*') {
				flush()
			}
		}
	}
	flush()
	return lines
}

func readPDFString(b []byte, i int) (string, int) {
	var sb strings.Builder
	depth := 1
	for ; i < len(b); i++ {
		c := b[i]
		switch c {
		case '\\':
			if i+1 < len(b) {
				i++
				switch e := b[i]; e {
				case 'n':
					sb.WriteByte('\n')
				case 'r', 't', 'b', 'f':
					sb.WriteByte(' ')
				case '0', '1', '2', '3', '4', '5', '6', '7':
					j := i
					for j < len(b) && j < i+3 && b[j] >= '0' && b[j] <= '7' {
						j++
					}
					v, _ := strconv.ParseUint(string(b[i:j]), 8, 8)
					sb.WriteByte(byte(v))
					i = j - 1
				default:
					sb.WriteByte(e)
				}
			}
		case '(':
			depth++
			sb.WriteByte(c)
		case ')':
			depth--
			if depth == 0 {
				return sb.String(), i
			}
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), i
}

var (
	reInvoiceNo = regexp.MustCompile(`(?i)(?:invoice|receipt)\s*(?:no\.?|number|#)\s*[:#]?\s*([A-Z0-9][A-Z0-9\-/]*)`)
	reInvoiceID = regexp.MustCompile(`\bINV-[A-Z0-9\-]+\b`)
	reDate      = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2})\b`)
	reTotal     = regexp.MustCompile(`(?i)\btotal(?:\s+due|\s+amount)?\s*:?\s*(?:[A-Z]{3}\s*|[$€£]\s*)?([0-9][0-9,]*(?:\.[0-9]{1,2})?)`)
	reVendor    = regexp.MustCompile(`(?i)^(?:from|vendor|seller)\s*:\s*(.+)$`)
	reCurrency  = regexp.MustCompile(`\b(EUR|USD|GBP|CHF)\b|([$€£])`)
	reItem      = regexp.MustCompile(`^(.*?[A-Za-z].*?)\s+([0-9][0-9,]*\.[0-9]{2})$`)
)

// invoiceData derives the invoice parser's fields from the text.
func invoiceData(lines []string) json.RawMessage {
	var d struct {
		VendorName    *string    `json:"vendor_name"`
		InvoiceNumber *string    `json:"invoice_number"`
		InvoiceDate   *string    `json:"invoice_date"`
		TotalAmount   *float64   `json:"total_amount"`
		Currency      *string    `json:"currency"`
		LineItems     []lineItem `json:"line_items"`
	}
	d.LineItems = []lineItem{}
	for _, l := range lines {
		if d.InvoiceNumber == nil {
			if m := reInvoiceNo.FindStringSubmatch(l); m != nil {
				d.InvoiceNumber = ptr(m[1])
			} else if m := reInvoiceID.FindString(l); m != "" {
				d.InvoiceNumber = ptr(m)
			}
		}
		if d.InvoiceDate == nil {
			if m := reDate.FindStringSubmatch(l); m != nil {
				d.InvoiceDate = ptr(m[1])
			}
		}
		if d.VendorName == nil {
			if m := reVendor.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
				d.VendorName = ptr(strings.TrimSpace(m[1]))
			}
		}
		if m := reTotal.FindStringSubmatch(l); m != nil {
			if v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64); err == nil {
				d.TotalAmount = &v
			}
			if c := reCurrency.FindStringSubmatch(l); c != nil && d.Currency == nil {
				cur := c[1]
				switch c[2] {
				case "$":
					cur = "USD"
				case "€":
					cur = "EUR"
				case "£":
					cur = "GBP"
				}
				d.Currency = ptr(cur)
			}
			continue
		}
		if m := reItem.FindStringSubmatch(strings.TrimSpace(l)); m != nil && !strings.Contains(strings.ToLower(l), "subtotal") &&
			!strings.Contains(strings.ToLower(l), "tax") {
			if v, err := strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64); err == nil {
				d.LineItems = append(d.LineItems, lineItem{Description: strings.TrimSpace(m[1]), Amount: v})
			}
		}
	}
	if d.VendorName == nil && len(lines) > 0 {
		d.VendorName = ptr(lines[0])
	}
	b, _ := json.Marshal(d)
	return b
}

type lineItem struct {
	Description string  `json:"description"`
	Amount      float64 `json:"amount"`
}

func ptr[T any](v T) *T { return &v }

func hasFailMarker(lines []string) bool {
	for _, l := range lines {
		if strings.Contains(l, FailMarker) {
			return true
		}
	}
	return false
}
