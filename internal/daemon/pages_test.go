package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// A PDF with more pages than the inbox's max_pages gets a TOO_MANY_PAGES
// error file and is never uploaded: 200,000 pages (22 MB, the file that
// exhausted the daemon's memory) under the default of 2,000, and 6 pages
// under an inbox's own max_pages of 5. Only the small file is charged.
func TestTooManyPagesRefusedWithoutCharge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra string
		file  []byte
		want  []string
	}{
		{"200,000 pages, default max_pages", "", pdftest.PDF(200_000, pdftest.Options{}), []string{"200000 pages", "allows 2000", "max_pages", "split"}},
		{"6 pages, max_pages = 5", "max_pages = 5", pdf(t, 3, 6), []string{"6 pages", "allows 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			cfg := e.config(tc.extra)
			good := filepath.Join(e.inbox, "good.pdf")
			write(t, good, pdf(t, 1, 1))
			big := filepath.Join(e.inbox, "big.pdf")
			write(t, big, tc.file)
			sum, err := e.once(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ef := readError(t, big)
			if ef.Error.Code != "TOO_MANY_PAGES" {
				t.Fatalf("error file %+v, want TOO_MANY_PAGES", ef.Error)
			}
			for _, w := range tc.want {
				if !strings.Contains(ef.Error.Message, w) {
					t.Errorf("message %q lacks %q", ef.Error.Message, w)
				}
			}
			if ef.Source.SHA256 == "" || ef.Source.Size != int64(len(tc.file)) {
				t.Errorf("error file source %+v does not name the content", ef.Source)
			}
			if !exists(results.ResultPath(good)) {
				t.Error("the good file got no result")
			}
			st := e.emu.Stats()
			if st.DocumentsCreated != 1 || st.PagesCharged != 1 {
				t.Errorf("documents_created=%d pages_charged=%d, want 1 and 1: the large file must never be uploaded", st.DocumentsCreated, st.PagesCharged)
			}
			if sum.Invalid != 1 || sum.Done != 1 {
				t.Errorf("summary = %+v", sum)
			}
		})
	}
}

// A file whose validation stopped the daemon in two runs in a row (their
// marks are in the state when it starts again) gets a VALIDATION_CRASHED
// error file instead of being validated a third time, and costs nothing.
// A file during whose validation one run stopped (a restart, a kill: it
// may be chance) is validated and processed as usual, and so is a file
// marked twice but changed since (a new size and mtime). No mark is left
// behind.
func TestValidationThatStoppedTheDaemonIsNotRepeated(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	crashed := filepath.Join(e.inbox, "crashed.pdf")
	once := filepath.Join(e.inbox, "once.pdf")
	renewed := filepath.Join(e.inbox, "renewed.pdf")
	write(t, crashed, pdf(t, 1, 2))
	write(t, once, pdf(t, 4, 1))
	write(t, renewed, pdf(t, 2, 1))

	// Earlier runs died while validating them: crashed.pdf and renewed.pdf
	// in two runs, once.pdf in the second only.
	for run, files := range [][]string{{crashed, renewed}, {crashed, renewed, once}} {
		st, err := state.Open(cfg.State.Path, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range files {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			prior, _, refuse, _, err := st.CheckValidation(p, fi.Size(), fi.ModTime().UnixNano())
			if err != nil || refuse {
				t.Fatalf("run %d: check %s: %v %v", run, p, refuse, err)
			}
			if err := st.BeginValidation(p, fi.Size(), fi.ModTime().UnixNano(), prior); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// renewed.pdf was saved again since: a new life.
	write(t, renewed, pdf(t, 3, 1))
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(renewed, later, later); err != nil {
		t.Fatal(err)
	}

	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ef := readError(t, crashed)
	if ef.Error.Code != "VALIDATION_CRASHED" || !strings.Contains(ef.Error.Message, "twice") || !strings.Contains(ef.Error.Message, "ppsync retry") {
		t.Errorf("crashed.pdf: error %+v, want VALIDATION_CRASHED saying how to try again", ef.Error)
	}
	for _, p := range []string{once, renewed} {
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s got no result\nlogs:\n%s", filepath.Base(p), tail(e.logs.String(), 3000))
		}
	}
	if s := e.emu.Stats(); s.DocumentsCreated != 2 || s.PagesCharged != 2 {
		t.Errorf("documents_created=%d pages_charged=%d, want once.pdf and renewed.pdf only", s.DocumentsCreated, s.PagesCharged)
	}
	if sum.Invalid != 1 || sum.Done != 2 {
		t.Errorf("summary = %+v", sum)
	}
	st, err := state.OpenReadOnly(cfg.State.Path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var left []string
	if err := st.View(func(tx *state.Tx) error {
		return tx.Validations(func(p string, _ state.Validation) error { left = append(left, p); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("marks left in the state: %v", left)
	}
}
