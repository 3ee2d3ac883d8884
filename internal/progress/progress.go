// Package progress shows the progress of 'ppsync run --once': on a
// terminal one line rewritten in place, in a log a summary line now and
// then.
package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ppsync/ppsync/internal/report"
)

// Progress of run --once: on a terminal, one line on stderr rewritten in
// place; otherwise (a log) a summary line every logEvery.
const (
	redrawEvery = 500 * time.Millisecond
	logEvery    = 10 * time.Second
)

// Progress is the work of one run at one moment.
type Progress struct {
	Done, Failed, Total int // files finished (failed included) of those found
	Elapsed             time.Duration
	Credits             *int
}

// Tally counts a report: files finished (with a result or an error file)
// and every file known, those still settling included.
func Tally(rep report.Report) (finished, failed, total int) {
	for _, in := range rep.Inboxes {
		for s, n := range in.Files {
			total += n
			switch s {
			case report.Done, report.Gone:
				finished += n
			case report.Failed, report.Invalid:
				finished += n
				failed += n
			}
		}
		total += in.Settling
	}
	return finished, failed, total
}

// rate is files finished per second, 0 until there is something to measure.
func (p Progress) rate() float64 {
	if p.Done == 0 || p.Elapsed < time.Second {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// eta is the time left at the current rate (0 when unknown).
func (p Progress) eta() time.Duration {
	r := p.rate()
	if r == 0 || p.Total <= p.Done {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second)).Round(time.Second)
}

// Line is the terminal's progress line, such as
// "312/500 files done (2 failed) · 4.2 files/s · about 45s left · 1,234 credits left".
func (p Progress) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d files done", p.Done, p.Total)
	if p.Failed > 0 {
		fmt.Fprintf(&b, " (%d failed)", p.Failed)
	}
	if r := p.rate(); r > 0 {
		fmt.Fprintf(&b, " · %.1f files/s", r)
		if e := p.eta(); e > 0 {
			fmt.Fprintf(&b, " · about %s left", e)
		}
	}
	if p.Credits != nil {
		fmt.Fprintf(&b, " · %s credits left", thousands(*p.Credits))
	}
	return b.String()
}

// attrs are the summary's log attributes.
func (p Progress) attrs() []any {
	a := []any{"done", p.Done, "total", p.Total, "failed", p.Failed, "elapsed", p.Elapsed.Round(time.Second)}
	if r := p.rate(); r > 0 {
		a = append(a, "files_per_second", fmt.Sprintf("%.1f", r))
		if e := p.eta(); e > 0 {
			a = append(a, "eta", e)
		}
	}
	if p.Credits != nil {
		a = append(a, "credits", *p.Credits)
	}
	return a
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// View shows a run's progress. On a terminal it is also the log's
// writer, so a log line clears the progress line and it is drawn again
// below it.
type View struct {
	out io.Writer
	// Terminal tells a terminal (a line redrawn in place) from a log.
	Terminal bool
	// Log is the summary's logger when not on a terminal.
	Log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	shown string
}

// ViewOn shows progress on out, redrawn in place when out is a terminal.
func ViewOn(out io.Writer) *View {
	f, isFile := out.(*os.File)
	return NewView(out, isFile && term.IsTerminal(int(f.Fd())))
}

// NewView shows progress on out, a terminal or not.
func NewView(out io.Writer, terminal bool) *View {
	every := logEvery
	if terminal {
		every = redrawEvery
	}
	return &View{out: out, Terminal: terminal, every: every, now: time.Now}
}

// Write passes a log line through, keeping the progress line below it.
func (v *View) Write(b []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown != "" {
		fmt.Fprint(v.out, "\r\x1b[K")
	}
	n, err := v.out.Write(b)
	if v.shown != "" {
		fmt.Fprint(v.out, v.shown)
	}
	return n, err
}

func (v *View) draw(line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprint(v.out, "\r\x1b[K"+line)
	v.shown = line
}

// Clear removes the progress line (at the end of the run).
func (v *View) Clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown != "" {
		fmt.Fprint(v.out, "\r\x1b[K")
		v.shown = ""
	}
}

// Run shows the progress of status until ctx ends. Files already finished
// when it starts (earlier runs) are not counted.
func (v *View) Run(ctx context.Context, status func() (report.Report, error)) {
	start := v.now()
	baseDone, baseFailed := -1, 0
	t := time.NewTicker(v.every)
	defer t.Stop()
	show := v.Terminal // a log gets its first summary after one interval
	for {
		if rep, err := status(); err == nil {
			finished, failed, total := Tally(rep)
			if baseDone < 0 {
				baseDone, baseFailed = finished, failed
			}
			p := Progress{Done: max(finished-baseDone, 0), Failed: max(failed-baseFailed, 0), Total: max(total-baseDone, 0),
				Elapsed: v.now().Sub(start), Credits: rep.CreditsAvailable}
			switch {
			case !show:
			case v.Terminal:
				v.draw(p.Line())
			case v.Log != nil:
				v.Log.Info("progress", p.attrs()...)
			}
		}
		show = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
