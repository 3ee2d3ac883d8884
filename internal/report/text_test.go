package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/errcode"
	"github.com/ppsync/ppsync/internal/report"
)

func TestWriteText(t *testing.T) {
	healthy := false
	r := report.Report{Daemon: report.Daemon{Running: true, PID: 7, Version: "1.0", Started: time.Now()}, State: report.StateInfo{Path: "/s.db", Schema: 1},
		Inboxes: []report.Inbox{{Path: "/in", ParserID: "p", Watch: "poll", Healthy: &healthy, Error: "gone", Settling: 2, Incomplete: 1,
			Files: map[string]int{report.Done: 4}}}}
	var b strings.Builder
	r.WriteText(&b, "127.0.0.1:20001")
	for _, want := range []string{"is running (pid 7", "admin:     http://127.0.0.1:20001", "UNREACHABLE: gone", "2 files still being written", "1 empty or without %%EOF", "/s.db (schema 1)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	report.Report{State: report.StateInfo{Path: "/s.db"}}.WriteText(&b, "off")
	if !strings.Contains(b.String(), "not created yet") || strings.Contains(b.String(), "admin:") {
		t.Errorf("stopped, no state, admin off:\n%s", b.String())
	}
}

// TestWriteTextSaysWhatToDo: the last problems are followed by what the
// catalogue of codes says to do, once per code, with whether credits were
// spent; a code the catalogue does not know adds nothing.
func TestWriteTextSaysWhatToDo(t *testing.T) {
	at := time.Now()
	r := report.Report{State: report.StateInfo{Path: "/s.db", Schema: 1},
		Inboxes: []report.Inbox{{Path: "/in", ParserID: "p", Files: map[string]int{report.Failed: 3},
			LastErrors: []report.FileError{
				{Path: "/in/a.pdf", State: report.Invalid, Code: "NOT_A_PDF", Reason: "no header", At: at},
				{Path: "/in/b.pdf", State: report.Invalid, Code: "not_a_pdf", Reason: "no header", At: at},
				{Path: "/in/c.pdf", State: report.Failed, Code: "EXTRACTION_FAILED", Reason: "unreadable", At: at},
				{Path: "/in/d.pdf", State: report.Failed, Code: "SOMETHING_NEW", Reason: "odd", At: at},
			}}}}
	var b strings.Builder
	r.WriteText(&b, "off")
	out := b.String()
	notPDF, _ := errcode.Lookup("NOT_A_PDF")
	failed, _ := errcode.Lookup("EXTRACTION_FAILED")
	for _, want := range []string{"what to do:", "NOT_A_PDF (charged: no): " + notPDF.Fix,
		"EXTRACTION_FAILED (charged: yes (by the API; ppsync does not resend it by itself)): " + failed.Fix} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, notPDF.Fix); n != 1 {
		t.Errorf("NOT_A_PDF's fix printed %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "SOMETHING_NEW (") {
		t.Errorf("an unknown code got advice:\n%s", out)
	}
}
