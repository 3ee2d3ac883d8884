package progress

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/testlog"
)

func TestProgressLine(t *testing.T) {
	credits := 1234
	low := 7
	tests := []struct {
		name string
		p    Progress
		want string
	}{
		{"nothing done yet", Progress{Total: 500, Elapsed: 3 * time.Second, Credits: &credits},
			"0/500 files done · 1,234 credits left"},
		{"under way", Progress{Done: 312, Total: 500, Elapsed: 75 * time.Second, Credits: &credits},
			"312/500 files done · 4.2 files/s · about 45s left · 1,234 credits left"},
		{"with failures, credits unknown", Progress{Done: 40, Failed: 2, Total: 100, Elapsed: 20 * time.Second},
			"40/100 files done (2 failed) · 2.0 files/s · about 30s left"},
		{"finished", Progress{Done: 10, Total: 10, Elapsed: 5 * time.Second, Credits: &low},
			"10/10 files done · 2.0 files/s · 7 credits left"},
		{"long run", Progress{Done: 1000, Total: 9000, Elapsed: 10 * time.Minute},
			"1000/9000 files done · 1.7 files/s · about 1h20m0s left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Line(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTallyCountsFinishedAndSettling(t *testing.T) {
	rep := report.Report{Inboxes: []report.Inbox{
		{Settling: 2, Files: map[string]int{report.Done: 5, report.Failed: 1, report.Invalid: 1, report.Queued: 3, report.InFlight: 4}},
		{Files: map[string]int{report.Done: 1, report.Gone: 1, report.WaitingCredits: 2}},
	}}
	finished, failed, total := Tally(rep)
	if finished != 9 || failed != 2 || total != 20 {
		t.Errorf("finished %d failed %d total %d, want 9 2 20", finished, failed, total)
	}
}

// fakeStatus reports files finishing over time.
type fakeStatus struct {
	mu    sync.Mutex
	done  int
	calls int
}

func (f *fakeStatus) called() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeStatus) status() (report.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	credits := 100 - f.done
	return report.Report{CreditsAvailable: &credits, Inboxes: []report.Inbox{
		{Files: map[string]int{report.Done: 3 + f.done, report.Queued: 10 - f.done}}}}, nil
}

func (f *fakeStatus) finish() {
	f.mu.Lock()
	f.done++
	f.mu.Unlock()
}

// Not on a terminal (a log file, journald): periodic summary lines through
// the logger, no carriage returns or escape codes; files finished by an
// earlier run are not counted.
func TestProgressSummaryInALog(t *testing.T) {
	var buf testlog.Buffer
	v := NewView(&buf, false)
	if v.every != logEvery {
		t.Fatalf("summary every %v, want %v", v.every, logEvery)
	}
	v.every = 20 * time.Millisecond
	v.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	f := &fakeStatus{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx, f.status); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.called() == 0 { // the run's starting point is taken first
		if time.Now().After(deadline) {
			t.Fatal("status never asked")
		}
		time.Sleep(time.Millisecond)
	}
	for strings.Count(buf.String(), `"msg":"progress"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no summaries after 5 s: %q", buf.String())
		}
		f.finish()
		time.Sleep(15 * time.Millisecond)
	}
	cancel()
	<-done
	v.Clear()
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("terminal control characters in a log: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{`"total":10`, `"failed":0`, `"credits":`} {
		if !strings.Contains(last, want) {
			t.Errorf("summary %s lacks %s", last, want)
		}
	}
	if strings.Contains(lines[0], `"done":3`) {
		t.Errorf("files finished before the run are counted: %s", lines[0])
	}
}

// On a terminal: the line is rewritten in place, a log line clears it and
// it is drawn again below, and it is gone at the end.
func TestProgressLineOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	v := NewView(&buf, true)
	v.draw("1/10 files done")
	_, _ = v.Write([]byte("level=WARN msg=\"a warning\"\n"))
	v.draw("2/10 files done")
	v.Clear()
	want := "\r\x1b[K1/10 files done" + "\r\x1b[Klevel=WARN msg=\"a warning\"\n1/10 files done" + "\r\x1b[K2/10 files done" + "\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
}

// A view on anything but a terminal logs a summary now and then instead of
// redrawing a line: a buffer, a regular file.
func TestViewOnTellsALogFromATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, out := range []io.Writer{&bytes.Buffer{}, f} {
		if v := ViewOn(out); v.Terminal {
			t.Errorf("a view on %T is taken for a terminal", out)
		}
	}
}
