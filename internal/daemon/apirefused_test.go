package daemon_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// fontWithoutSubtype is a one-page PDF whose structure and page tree are
// sound but whose page's font lacks its /Subtype: ppsync's check before
// upload (the page counter and the structural sweep) accepts it, and the
// API, which reads the page's resources, refuses it.
func fontWithoutSubtype() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1<</Type/Font>>>>>>>>",
	} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	b.WriteString("xref\n0 4\n0000000000 65535 f \n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// TestFileTheAPIRefusesAloneCostsNothing: a file that passes ppsync's own
// check but that the API cannot read is found by splitting its batch,
// refused alone with PAGE_COUNT_FAILED and charged nothing, while the files
// sent with it get their results.
func TestFileTheAPIRefusesAloneCostsNothing(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	var good []string
	for i := range 3 {
		p := filepath.Join(e.inbox, fmt.Sprintf("good-%d.pdf", i))
		write(t, p, pdf(t, i+1, 1))
		good = append(good, p)
	}
	bad := filepath.Join(e.inbox, "font.pdf")
	write(t, bad, fontWithoutSubtype())
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range good {
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s: no result beside the file the API refused", p)
		}
	}
	ef := readError(t, bad)
	if ef.Error.Code != "PAGE_COUNT_FAILED" || ef.Error.Message == "" {
		t.Errorf("font.pdf: error %+v, want PAGE_COUNT_FAILED with a message", ef.Error)
	}
	if ef.Error.Fix == "" || ef.Error.Charged == nil || *ef.Error.Charged {
		t.Errorf("font.pdf: error %+v, want what to do and charged=false", ef.Error)
	}
	// It was sent: the API refused it (ppsync's own check lets it through).
	if !strings.Contains(ef.Error.Message, "POST /v1/extractions") {
		t.Errorf("font.pdf: %q, want the API's refusal (the file passes ppsync's check and must have been sent)", ef.Error.Message)
	}
	if exists(results.ResultPath(bad)) {
		t.Error("font.pdf got a result")
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 3 || st.PagesCharged != 3 {
		t.Errorf("documents_created=%d pages_charged=%d, want 3 and 3: the refused file must cost nothing", st.DocumentsCreated, st.PagesCharged)
	}
	if sum.Done != 3 {
		t.Errorf("summary = %+v, want 3 done", sum)
	}
}
