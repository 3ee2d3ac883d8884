package daemon_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
	"github.com/ppsync/ppsync/internal/results"
)

// fontWithoutSubtype is a one-page PDF whose structure and page tree are
// sound but whose page's font lacks its /Subtype: ppsync's check before
// upload (the page counter and the structural sweep) accepts it, and the
// API, which reads the page's resources, refuses it.
func fontWithoutSubtype() []byte {
	return pdftest.OnePage("<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1<</Type/Font>>>>>>>>")
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
