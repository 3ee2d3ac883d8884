package pdfcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
)

// streamPDF is an invoice with an update holding one stream object whose
// dictionary, data and what follows the data are given; %d in dict is the
// number of the object after the stream (for an indirect /Length).
func streamPDF(tb testing.TB, dict string, data []byte, after string, more ...string) []byte {
	return appendUpdate(tb, invoicePDF(tb, 1), func(first int) []string {
		d := dict
		if strings.Contains(d, "%d") {
			d = fmt.Sprintf(d, first+1)
		}
		return append([]string{d + "\nstream\n" + string(data) + after}, more...)
	})
}

// xrefStreamPDF is a small file with a cross-reference stream (no filter,
// rows of 1+4+2 bytes) and an object stream (4) holding the page tree (2
// and 3); object 6, a dictionary nothing refers to, is listed as the idx-th
// object of object stream stm.
func xrefStreamPDF(stm, idx int) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	offs[1] = out.Len()
	out.WriteString("1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
	objs := []string{"<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>", "<</Producer(sweep test)>>"}
	var head, data bytes.Buffer
	for i, o := range objs {
		num := []int{2, 3, 6}[i]
		fmt.Fprintf(&head, "%d %d ", num, data.Len())
		data.WriteString(o + "\n")
	}
	offs[4] = out.Len()
	fmt.Fprintf(&out, "4 0 obj\n<</Type/ObjStm/N %d/First %d/Length %d>>\nstream\n%s%s\nendstream\nendobj\n",
		len(objs), head.Len(), head.Len()+data.Len(), head.Bytes(), data.Bytes())
	offs[5] = out.Len()
	var rows bytes.Buffer
	row := func(kind byte, f2, f3 int) {
		var r [7]byte
		r[0] = kind
		binary.BigEndian.PutUint32(r[1:5], uint32(f2))
		binary.BigEndian.PutUint16(r[5:7], uint16(f3))
		rows.Write(r[:])
	}
	row(0, 0, 0xffff)
	row(1, offs[1], 0)
	row(2, 4, 0)
	row(2, 4, 1)
	row(1, offs[4], 0)
	row(1, offs[5], 0)
	row(2, stm, idx)
	fmt.Fprintf(&out, "5 0 obj\n<</Type/XRef/Size 7/W[1 4 2]/Root 1 0 R/Length %d>>\nstream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n",
		rows.Len(), rows.Bytes(), offs[5])
	return out.Bytes()
}

// qpdfFiles are the layouts qpdf writes, from a generated tree and an fpdf
// invoice (nil without qpdf).
func qpdfFiles(t *testing.T) map[string][]byte {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		return nil
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	inv := filepath.Join(dir, "inv.pdf")
	if err := os.WriteFile(src, pdftest.PDF(40, pdftest.Options{Fanout: 7}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv, oneBigStream(t, 40_000), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, tc := range []struct {
		name string
		in   string
		args []string
	}{
		{"qpdf object streams", src, []string{"--object-streams=generate"}},
		{"qpdf object streams, invoice", inv, []string{"--object-streams=generate"}},
		{"qpdf linearized", src, []string{"--linearize"}},
		{"qpdf linearized with object streams", inv, []string{"--linearize", "--object-streams=generate"}},
		{"qpdf --qdf", inv, []string{"--qdf"}},
	} {
		out := filepath.Join(dir, strings.NewReplacer(" ", "_", ",", "").Replace(tc.name)+".pdf")
		args := append(append([]string{}, tc.args...), tc.in, out)
		if b, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: qpdf %v: %v %s", tc.name, args, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files[tc.name] = b
	}
	return files
}

// pagePDF is a one-page file whose page object (3) is page; root adds
// entries to the root Pages node.
func pagePDF(page string, root ...string) []byte { return pdftest.OnePage(page, root...) }

// sweepCase is a file, damaged or not, and what the sweep makes of it.
type sweepCase struct {
	name string
	data []byte
	// flagged: the sweep (or the counter's walk) finds damage, so pdfcpu
	// judges the file.
	flagged bool
	// differs, when not "", is why the file is accepted though pdfcpu
	// refuses it.
	differs string
}

// TestSweepVerdictIsPDFCPUs judges damaged variants of a file and files of
// the layouts qpdf writes, and holds each verdict to pdfcpu's on the same
// bytes (pdfcpuPages, the oracle): accepted or refused alike, with the same
// code and the same number of pages. A file the sweep passes is accepted
// without pdfcpu; one it flags is judged by pdfcpu, which repairs what it
// can.
func TestSweepVerdictIsPDFCPUs(t *testing.T) {
	const n = 5000
	data := noise(n)
	dict := "<< /Length 0000005000 >>"
	good := streamPDF(t, dict, data, "\nendstream")
	damage := func(old, new string) []byte {
		t.Helper()
		if len(old) != len(new) || bytes.Count(good, []byte(old)) != 1 {
			t.Fatalf("cannot replace %q by %q once", old, new)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	// The stream object's entry in the update's cross-reference table.
	streamOff := bytes.LastIndex(good, []byte(dict)) - len("N 0 obj\n")
	for good[streamOff-1] != '\n' {
		streamOff--
	}
	entry := fmt.Sprintf("%010d 00000 n", streamOff)
	catalog := bytes.Index(good, []byte("/Type /Catalog"))
	for !bytes.HasSuffix(good[:catalog], []byte(" obj\n")) && !bytes.HasSuffix(good[:catalog], []byte(" obj\n<<")) {
		catalog--
	}
	for catalog > 0 && good[catalog-1] != '\n' {
		catalog--
	}
	header := string(good[streamOff : streamOff+bytes.IndexByte(good[streamOff:], '\n')])
	num, _, _ := strings.Cut(header, " ")
	other := strconv.Itoa(mustAtoi(t, num) - 1) // the object before it
	if len(other) != len(num) {
		t.Fatalf("object number %s and %s differ in width", num, other)
	}

	cases := []sweepCase{
		{"intact", good, false, ""},
		{"/Length includes the end of line", damage("0000005000", "0000005001"), false, ""},
		{"CR LF before endstream", streamPDF(t, dict, data, "\r\nendstream"), false, ""},
		{"no end of line before endstream", streamPDF(t, dict, data, "endstream"), false, ""},
		{"stream keyword ends with CR LF", bytes.Replace(good, []byte(">>\nstream\n"), []byte(">>stream\r\n"), 1), false, ""},
		{"indirect /Length", streamPDF(t, "<< /Length %d 0 R >>", data, "\nendstream", "5000"), false, ""},
		{"/Length longer than the data", damage("0000005000", "0000005010"), true, ""},
		{"/Length shorter than the data", damage("0000005000", "0000004990"), true, ""},
		{"/Length past the end of the file", damage("0000005000", "0000095000"), true, ""},
		{"/Length far past the end of the file", damage("0000005000", "9000000000"), true, ""},
		{"/Length negative", damage("0000005000", "-000005000"), true, ""},
		{"no /Length", damage("/Length 0000005000", "/Lengxx 0000005000"), true, ""},
		{"indirect /Length wrong", streamPDF(t, "<< /Length %d 0 R >>", data, "\nendstream", "4990"), true, ""},
		{"indirect /Length to a missing object", streamPDF(t, "<< /Length 999 0 R >>", data, "\nendstream"), true, ""},
		{"endstream missing", damage("\nendstream\nendobj\nxref", "\nendstrxam\nendobj\nxref"), true, ""},
		{"endstream missing, /Length past the end", streamPDF(t, "<< /Length 0000095000 >>", data, "\nendstrxam"), true, ""},
		{"cross-reference offset into the data", damage(entry, fmt.Sprintf("%010d 00000 n", streamOff+200)), true, ""},
		{"cross-reference offset at another object", damage(entry, fmt.Sprintf("%010d 00000 n", catalog)), true, ""},
		{"object number mismatch", damage(header, other+header[len(num):]), true, ""},
		{"cross-reference stream, intact", xrefStreamPDF(4, 2), false, ""},
		{"cross-reference stream, entry in a missing object stream", xrefStreamPDF(9, 0), true, ""},
		{"cross-reference stream, entry in an object that is no object stream", xrefStreamPDF(1, 0), true, ""},
		{"cross-reference stream, entry past the object stream's /N", xrefStreamPDF(4, 3), true, ""},
		{"generated tree, table", pdftest.PDF(30, pdftest.Options{Fanout: 4}), false, ""},
		{"generated tree, object streams", pdftest.PDF(300, pdftest.Options{Fanout: 10, Compressed: true}), false, ""},
		{"trailer without /Size", bytes.Replace(pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>"), []byte("/Size 4"), []byte("/Sxze 4"), 1), true, ""},
		{"/Size below the objects listed", bytes.Replace(pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>"), []byte("/Size 4"), []byte("/Size 3"), 1), true, ""},
		{"page, intact", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>"), false, ""},
		{"page, /MediaBox inherited", pagePDF("<</Type/Page/Parent 2 0 R>>", "/MediaBox[0 0 9 9]"), false, ""},
		{"page, no /MediaBox", pagePDF("<</Type/Page/Parent 2 0 R>>"), true, ""},
		{"page, /Resources an integer", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources 5>>"), true, ""},
		{"page, /Contents an integer", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 7>>"), true, ""},
		{"page, /Annots an integer", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Annots 5>>"), true, ""},
		{"page, no /Parent", pagePDF("<</Type/Page/MediaBox[0 0 612 792]>>"), true, ""},
		{"page, /Type /Foo", pagePDF("<</Type/Foo/Parent 2 0 R/MediaBox[0 0 612 792]>>"), true, ""},
		{"page, /Contents to a missing object", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 9 0 R>>"), false, ""},
		{"page, a font without /Subtype", pagePDF("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1<</Type/Font>>>>>>>>"), false,
			"the sweep checks the structure and the page tree, not the resources a page draws with (fonts, images, colour spaces): the API judges those when it renders the page"},
	}
	q := qpdfFiles(t)
	if q == nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qpdf is required in CI")
		}
		t.Log("SKIPPED the qpdf layouts: qpdf not installed (apt-get install qpdf); CI installs it")
	}
	for name, b := range q {
		cases = append(cases, sweepCase{name, b, false, ""})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			size := int64(len(tc.data))
			pc, err := countPages(bytes.NewReader(tc.data), size, 0)
			if err != nil || !pc.walked || pc.encrypted {
				t.Fatalf("the counter: %+v %v; every case is one it reads whole", pc, err)
			}
			swept := pc.odd
			if swept == nil {
				swept = pc.doc.sweep()
			}
			if (swept != nil) != tc.flagged {
				t.Errorf("sweep: %v, want flagged %v", swept, tc.flagged)
			}
			deepRan := false
			pages, err := judgeWith(bytes.NewReader(tc.data), size, 0, func(r io.ReadSeeker) (int, error) {
				deepRan = true
				return pdfcpuPages(r)
			})
			if deepRan != tc.flagged {
				t.Errorf("pdfcpu ran: %v, want %v", deepRan, tc.flagged)
			}
			wantPages, perr := pdfcpuPages(bytes.NewReader(tc.data))
			t.Logf("sweep: %v; pdfcpu: %d %v; verdict: %d %v", swept, wantPages, perr, pages, err)
			if tc.differs != "" {
				// Accepted by the sweep; pdfcpu refuses it.
				if perr == nil || err != nil || pages != int(pc.pages) {
					t.Errorf("verdict %d %v, want accepted; pdfcpu: %v, want refused", pages, err, perr)
				}
				return
			}
			if perr != nil {
				want := pdfcpuProblem(perr).Code
				if p, ok := err.(*Problem); !ok || p.Code != want {
					t.Errorf("verdict %d %v, pdfcpu's %s (%v)", pages, err, want, perr)
				}
				return
			}
			if err != nil || pages != wantPages {
				t.Errorf("verdict %d %v, pdfcpu's %d pages", pages, err, wantPages)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSweepBounded: a sweep stops when it has read its budget (twice the
// file's size and 32 MiB: objects may overlap), and the file goes to
// pdfcpu.
func TestSweepBounded(t *testing.T) {
	b := streamPDF(t, "<< /Length 5000 >>", noise(5000), "\nendstream")
	for _, tc := range []struct {
		budget int64
		want   error
	}{
		{0, nil},
		{int64(len(b)) / 4, errSweepBudget},
	} {
		pc, err := countPages(bytes.NewReader(b), int64(len(b)), 0)
		if err != nil {
			t.Fatal(err)
		}
		pc.doc.sweepMax = tc.budget
		if err := pc.doc.sweep(); !errors.Is(err, tc.want) {
			t.Errorf("budget %d: %v, want %v", tc.budget, err, tc.want)
		}
	}
}
