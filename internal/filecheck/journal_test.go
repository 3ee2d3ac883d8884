package filecheck_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/pdfcheck/pdftest"
)

// journal records the calls; crashedFor names a path reported as crashed.
type journal struct {
	mu         sync.Mutex
	calls      []string
	crashedFor string
}

func (j *journal) BeginValidation(path string, size, mtime int64) (time.Time, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, "begin "+path)
	if path == j.crashedFor {
		return time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), true, nil
	}
	return time.Time{}, false, nil
}

func (j *journal) EndValidation(path string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, "end "+path)
	return nil
}

func TestJournalMarksEachPDFValidation(t *testing.T) {
	pdf := write(t, "a.pdf", pdfBytes(t, 2))
	png := write(t, "b.png", pngBytes(t))
	crashed := write(t, "c.pdf", pdfBytes(t, 1))
	j := &journal{crashedFor: crashed}
	o := filecheck.Options{Journal: j}
	if info, err := filecheck.Inspect(pdf, o); err != nil || info.Pages != 2 {
		t.Fatalf("pdf: %+v %v", info, err)
	}
	if _, err := filecheck.Inspect(png, o); err != nil {
		t.Fatalf("png: %v", err)
	}
	info, err := filecheck.Inspect(crashed, o)
	var p *filecheck.Problem
	if !errors.As(err, &p) || p.Code != filecheck.CodeValidationCrashed || !strings.Contains(p.Message, "ppsync retry") || info.Size == 0 {
		t.Errorf("crashed: %+v %v, want %s", info, err, filecheck.CodeValidationCrashed)
	}
	want := []string{"begin " + pdf, "end " + pdf, "begin " + crashed}
	if strings.Join(j.calls, "|") != strings.Join(want, "|") {
		t.Errorf("journal calls %q, want %q (PDFs marked and cleared; a crashed one not validated)", j.calls, want)
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
