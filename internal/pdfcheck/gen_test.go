package pdfcheck

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

var (
	startxrefRE = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	sizeRE      = regexp.MustCompile(`/Size\s+(\d+)`)
	rootRE      = regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`)
)

// appendUpdate appends to the PDF b an incremental update of the objects
// bodies returns (each the text between "N 0 obj\n" and "\nendobj"),
// numbered from the trailer's /Size on; bodies is given that first number.
func appendUpdate(tb testing.TB, b []byte, bodies func(first int) []string) []byte {
	tb.Helper()
	m := startxrefRE.FindSubmatch(b)
	sm := sizeRE.FindAllSubmatch(b, -1)
	rm := rootRE.FindAllSubmatch(b, -1)
	if m == nil || sm == nil || rm == nil {
		tb.Fatal("the PDF has no startxref, /Size or /Root")
	}
	first, _ := strconv.Atoi(string(sm[len(sm)-1][1]))
	var out bytes.Buffer
	out.Write(b)
	if !bytes.HasSuffix(b, []byte("\n")) {
		out.WriteByte('\n')
	}
	objs := bodies(first)
	offs := make([]int, len(objs))
	for i, body := range objs {
		offs[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", first+i, body)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 1\n0000000000 65535 f \n%d %d\n", first, len(objs))
	for _, off := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %s /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		first+len(objs), rm[len(rm)-1][1], m[1], xref)
	return out.Bytes()
}

// noise is n pseudo-random bytes, as a scan's image data.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// oneBigStream is a PDF of about want bytes that is mostly one stream, as
// scanners write them: an fpdf invoice and an incremental update holding
// one stream of pseudo-random bytes.
func oneBigStream(tb testing.TB, want int) []byte {
	tb.Helper()
	b := invoicePDF(tb, 1)
	pad := max(want-len(b)-300, 0)
	return appendUpdate(tb, b, func(int) []string {
		return []string{fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", pad, noise(pad))}
	})
}
