//go:build linux || darwin

package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/report"
)

// gateOnce is a --once run over an inbox whose results_dir lies under a
// regular file ("blocker"): no one, root included, can write there until
// the file is replaced by a folder.
type gateOnce struct {
	e       *env
	blocker string
	results string
	files   map[string][]byte
}

func newGateOnce(t *testing.T, n int) *gateOnce {
	e := newEnv(t, emulator.Options{})
	g := &gateOnce{e: e, blocker: filepath.Join(e.root, "blocker"), files: map[string][]byte{}}
	g.results = filepath.Join(g.blocker, "results")
	write(t, g.blocker, []byte("a file where a folder should be"))
	for i := range n {
		p := filepath.Join(e.inbox, fmt.Sprintf("held%d.pdf", i))
		b := pdf(t, i+1, 1)
		write(t, p, b)
		g.files[p] = b
	}
	return g
}

func (g *gateOnce) heal(t *testing.T) {
	t.Helper()
	if err := os.Remove(g.blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(g.blocker, 0o755); err != nil {
		t.Fatal(err)
	}
}

// A --once run whose results folder cannot be written when the watcher
// reports the files, and can once the watcher has finished: the held files
// are taken in by the run itself, and every one gets its result.
func TestOnceResultsFolderHealsAfterTheWatcherFinished(t *testing.T) {
	g := newGateOnce(t, 3)
	e := g.e
	cfg := e.config(`results_dir = "blocker/results"`)
	o := e.options(cfg, true)
	statusC := make(chan func() (report.Report, error), 1)
	o.Status = func(s func() (report.Report, error)) { statusC <- s }
	ctx, stop := e.progressContext(context.Background(), stallLimit)
	defer stop()
	type outcome struct {
		sum daemon.Summary
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		s, err := daemon.Run(ctx, o)
		done <- outcome{s, err}
	}()
	var status func() (report.Report, error)
	select {
	case status = <-statusC:
	case r := <-done:
		t.Fatalf("the run ended before it started: %+v, %v", r.sum, r.err)
	}
	// Every file reported by the --once watcher (none settling) and the
	// inbox found unwritable: the watcher has finished, or is about to.
	const held = "inbox cannot take its results"
	e.waitFor("the files held and the watcher through", 20*time.Second, func() bool {
		select {
		case r := <-done:
			done <- r
			return true // the run ended: checked below
		default:
		}
		rep, err := status()
		return err == nil && len(rep.Inboxes) == 1 && rep.Inboxes[0].Settling == 0 && strings.Contains(e.logs.String(), held)
	})
	select {
	case r := <-done:
		t.Fatalf("the run ended while its files were held: %+v, %v\nlogs:\n%s", r.sum, r.err, tail(e.logs.String(), 3000))
	default:
	}
	if s := e.emu.Stats(); s.ExtractionsCreated != 0 {
		t.Fatalf("%d extractions while the results folder could not be written", s.ExtractionsCreated)
	}
	g.heal(t)
	var r outcome
	select {
	case r = <-done:
	case <-time.After(2 * stallLimit):
		t.Fatal("the run did not end")
	}
	if r.err != nil || r.sum.Done != len(g.files) || !r.sum.OK() {
		t.Fatalf("summary %+v, %v: want %d done\nlogs:\n%s", r.sum, r.err, len(g.files), tail(e.logs.String(), 3000))
	}
	for p := range g.files {
		if !exists(filepath.Join(g.results, filepath.Base(p)+".json")) {
			t.Errorf("%s: no result in %s", p, g.results)
		}
	}
	if s := e.emu.Stats(); s.PagesCharged != len(g.files) {
		t.Errorf("%d pages charged, want %d (each file once)", s.PagesCharged, len(g.files))
	}
	if n := strings.Count(e.logs.String(), "inbox takes its results again"); n != 1 {
		t.Errorf("the healed inbox was logged %d times, want once", n)
	}
}

// A results folder that never heals: the --once run ends (within a few
// probes, not never) saying which inbox, why, how many files and what to
// do; nothing is sent, charged or recorded, the files are as they were,
// and the next run, once the folder can be written, takes them.
func TestOnceEndsWithoutFilesWhoseResultsCannotBeWritten(t *testing.T) {
	g := newGateOnce(t, 2)
	e := g.e
	cfg := e.config(`results_dir = "blocker/results"`)
	start := time.Now()
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Five probes 2 s apart once the watcher finished: far below this.
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the run took %v", d)
	}
	logs := e.logs.String()
	problems := strings.Join(sum.Problems, "\n")
	if sum.OK() || sum.Done != 0 || sum.Waiting != 0 || !strings.Contains(problems, e.inbox+": 2 files not taken in") ||
		!strings.Contains(problems, g.results) {
		t.Errorf("summary %+v: want not OK, the inbox listed with its 2 files and the folder", sum)
	}
	var warning string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "stopping without the files of an inbox whose results cannot be written") {
			warning = line
		}
	}
	for _, want := range []string{"level=WARN", "inbox=" + e.inbox, "files=2", g.results, "next run takes them"} {
		if !strings.Contains(warning, want) {
			t.Errorf("the warning %q does not say %q\nlogs:\n%s", warning, want, tail(logs, 3000))
		}
	}
	if s := e.emu.Stats(); s.ExtractionsCreated != 0 || s.PagesCharged != 0 {
		t.Errorf("%d extractions, %d pages charged for files whose results cannot be written", s.ExtractionsCreated, s.PagesCharged)
	}
	for p, b := range g.files {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s changed or gone: %v", p, err)
		}
	}

	g.heal(t)
	sum, err = e.once(cfg)
	if err != nil || sum.Done != 2 || !sum.OK() {
		t.Fatalf("the next run: %+v, %v; want both files done", sum, err)
	}
	for p := range g.files {
		if !exists(filepath.Join(g.results, filepath.Base(p)+".json")) {
			t.Errorf("%s: no result after the next run", p)
		}
	}
}
