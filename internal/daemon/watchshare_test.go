package daemon_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
)

// slowConfig is the fast config with one inbox at the default settle
// (2 s), so that a writer's pauses are shorter than settle.
func (e *env) slowConfig(listen string) *config.Config {
	e.t.Helper()
	return e.parse(e.fastTables(listen) + `
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "2s"
incomplete_after = "30s"
rescan_interval = "1s"
`)
}

// neverErrorFile watches p's error file until the test ends and reports
// whether it ever appeared.
func neverErrorFile(t *testing.T, p string) (appeared func() bool) {
	t.Helper()
	var seen atomic.Bool
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if exists(results.ErrorPath(p)) {
				seen.Store(true)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
	return seen.Load
}

// appendUpdate re-opens p and appends an incremental update ending in a
// new %%EOF, as a viewer that signs, annotates or saves does.
func appendUpdate(t *testing.T, p string, i int) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "\n%% incremental update %d\n%%%%EOF\n", i); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A PDF saved incrementally in 2 or 3 steps (complete, closed, re-opened
// and extended with a new %%EOF, pauses shorter than settle) is charged
// once, its result is of the final content, and no error file is ever
// written for it.
func TestIncrementalSaveIsChargedOnce(t *testing.T) {
	for _, steps := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d steps", steps), func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			stop := e.start(e.slowConfig("off"))
			defer stop()
			p := filepath.Join(e.inbox, "contract.pdf")
			errorFile := neverErrorFile(t, p)
			write(t, p, pdf(t, 1, 2))
			for i := 1; i < steps; i++ {
				time.Sleep(300 * time.Millisecond) // the writer's pause
				appendUpdate(t, p, i)
			}
			final, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			e.waitFor("the result of the final content", 30*time.Second, func() bool {
				return exists(results.ResultPath(p)) && readResult(t, p).Source.SHA256 == sha(final)
			})
			// Anything charged for an earlier version would have been
			// sent before the final one.
			if n := e.emu.Stats().DocumentsCreated; n != 1 {
				t.Errorf("%d documents charged for one file saved in %d steps, want 1", n, steps)
			}
			if errorFile() {
				t.Error("an error file appeared for a file being saved")
			}
		})
	}
}

// A linearized PDF whose copy pauses after its first %%EOF (longer than
// settle) never gets an error file: it waits for the length its
// linearization dictionary announces, then gets its result.
func TestLinearizedPDFPausedAfterFirstEOFGetsNoErrorFile(t *testing.T) {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qpdf is required in CI")
		}
		t.Skip("SKIPPED: qpdf not installed (apt-get install qpdf); CI installs it")
	}
	e := newEnv(t, emulator.Options{})
	dir := t.TempDir()
	src, lin := filepath.Join(dir, "src.pdf"), filepath.Join(dir, "lin.pdf")
	if err := os.WriteFile(src, pdf(t, 7, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(qpdf, "--linearize", src, lin).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	whole, err := os.ReadFile(lin)
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Index(whole, []byte("%%EOF")) + len("%%EOF\n")
	if cut < len("%%EOF\n") || cut >= len(whole) {
		t.Fatal("qpdf wrote no early end-of-file marker")
	}
	cfg := e.webConfig("127.0.0.1:"+port(t), "", "in") // settle 150 ms
	stop := e.start(cfg)
	defer stop()
	p := filepath.Join(e.root, "in", "linearized.pdf")
	errorFile := neverErrorFile(t, p)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(whole[:cut]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// Many settle periods (and a close-write's grace) with the first part only.
	e.waitFor("the paused file to be judged", 20*time.Second, func() bool {
		return errorFile() || status(t, cfg).Inboxes[0].Incomplete == 1
	})
	if errorFile() {
		t.Fatalf("an error file appeared for the linearized PDF paused after its first part: %s", readFile(t, results.ErrorPath(p)))
	}
	time.Sleep(time.Second)
	if _, err := f.Write(whole[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the result", 30*time.Second, func() bool { return exists(results.ResultPath(p)) })
	if errorFile() {
		t.Error("an error file appeared while the linearized PDF was still being copied")
	}
	if n := e.emu.Stats().DocumentsCreated; n != 1 {
		t.Errorf("%d documents charged, want 1", n)
	}
}

// The drop-to-result latency in /metrics starts when the file could first
// have been seen (its mtime here), not when it settled.
func TestDropToResultCountsFromTheFileArrival(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	listen := "127.0.0.1:" + port(t)
	cfg := e.webConfig(listen, "", "in")
	started := time.Now()
	stop := e.start(cfg)
	defer stop()
	const before = 3 * time.Second
	e.waitFor("the daemon to have run a while", 20*time.Second, func() bool { return time.Since(started) > before+500*time.Millisecond })
	p := filepath.Join(e.root, "in", "invoice.pdf")
	write(t, p, pdf(t, 1, 1))
	arrived := time.Now().Add(-before)
	if err := os.Chtimes(p, arrived, arrived); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the result", 30*time.Second, func() bool { return exists(results.ResultPath(p)) })
	var sum float64
	e.waitFor("the latency in /metrics", 10*time.Second, func() bool {
		m := regexp.MustCompile(`(?m)^ppsync_result_latency_seconds_sum (\S+)$`).FindStringSubmatch(get(t, cfg, "/metrics"))
		if m == nil {
			return false
		}
		sum, _ = strconv.ParseFloat(m[1], 64)
		return sum > 0
	})
	if sum < before.Seconds() {
		t.Errorf("drop to result %.2f s, want at least the %.0f s since the file was written", sum, before.Seconds())
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, _ := os.ReadFile(p)
	return string(b)
}

// Status says, per inbox, how it is watched and why.
func TestStatusSaysHowEachInboxIsWatched(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webConfig("127.0.0.1:"+port(t), "", "in")
	stop := e.start(cfg)
	defer stop()
	var in report.Inbox
	e.waitFor("the watch decision in status", 10*time.Second, func() bool {
		in = status(t, cfg).Inboxes[0]
		return in.WatchReason != ""
	})
	if in.Watch != "events+rescan" || !strings.Contains(in.WatchReason, "local filesystem") {
		t.Errorf("status: watch %q because %q; want events on a local filesystem", in.Watch, in.WatchReason)
	}
	var text strings.Builder
	status(t, cfg).WriteText(&text, cfg.Admin.Listen)
	if !strings.Contains(text.String(), "watching: "+in.WatchReason) {
		t.Errorf("ppsync status does not say why:\n%s", text.String())
	}
}
