package filecheck_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
)

// journal records the calls; refused names a path to refuse, stale one
// with an earlier run's mark.
type journal struct {
	mu             sync.Mutex
	calls          []string
	refused, stale string
}

func (j *journal) CheckValidation(path string, size, mtime int64) (int, time.Time, bool, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, "check "+filepath.Base(path))
	switch path {
	case j.refused:
		return 2, time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), true, false, nil
	case j.stale:
		return 1, time.Time{}, false, true, nil
	}
	return 0, time.Time{}, false, false, nil
}

func (j *journal) BeginValidation(path string, size, mtime int64, prior int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, fmt.Sprintf("begin %s %d", filepath.Base(path), prior))
	return nil
}

func (j *journal) EndValidation(path string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, "end "+filepath.Base(path))
	return nil
}

func TestJournalMarksPDFValidations(t *testing.T) {
	pdf := write(t, "a.pdf", pdfBytes(t, 2))
	png := write(t, "b.png", pngBytes(t))
	refused := write(t, "c.pdf", pdfBytes(t, 1))
	stale := write(t, "d.pdf", pdfBytes(t, 3))
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  []string
	}{
		// Quick validations cost no write; one a stopped run left a mark
		// of is marked at once, with the count, and cleared.
		{"quick", time.Hour, []string{"check a.pdf", "check c.pdf", "check d.pdf", "begin d.pdf 1", "end d.pdf"}},
		// Marked as soon as they start, cleared when they end.
		{"at once", -1, []string{"check a.pdf", "begin a.pdf 0", "end a.pdf", "check c.pdf", "check d.pdf", "begin d.pdf 1", "end d.pdf"}},
	} {
		j := &journal{refused: refused, stale: stale}
		o := filecheck.Options{Journal: j, MarkAfter: tc.after}
		if info, err := filecheck.Inspect(pdf, o); err != nil || info.Pages != 2 {
			t.Fatalf("%s: pdf: %+v %v", tc.name, info, err)
		}
		if _, err := filecheck.Inspect(png, o); err != nil {
			t.Fatalf("%s: png: %v", tc.name, err)
		}
		info, err := filecheck.Inspect(refused, o)
		var p *filecheck.Problem
		if !errors.As(err, &p) || p.Code != filecheck.CodeValidationCrashed || !strings.Contains(p.Message, "ppsync retry") || info.Size == 0 {
			t.Errorf("%s: refused: %+v %v, want %s", tc.name, info, err, filecheck.CodeValidationCrashed)
		}
		if info, err := filecheck.Inspect(stale, o); err != nil || info.Pages != 3 {
			t.Fatalf("%s: stale: %+v %v", tc.name, info, err)
		}
		if strings.Join(j.calls, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: journal calls %q, want %q", tc.name, j.calls, tc.want)
		}
	}
}

func TestTooManyPagesPassesThrough(t *testing.T) {
	p := write(t, "many.pdf", pdftest.PDF(30, pdftest.Options{Fanout: 4}))
	if info, err := filecheck.Inspect(p, filecheck.Options{MaxPages: 30}); err != nil || info.Pages != 30 {
		t.Errorf("at the limit: %+v %v", info, err)
	}
	_, err := filecheck.Inspect(p, filecheck.Options{MaxPages: 29})
	var pr *filecheck.Problem
	if !errors.As(err, &pr) || pr.Code != filecheck.CodeTooManyPages || !strings.Contains(pr.Message, "30 pages") {
		t.Errorf("over the limit: %v, want %s", err, filecheck.CodeTooManyPages)
	}
}
