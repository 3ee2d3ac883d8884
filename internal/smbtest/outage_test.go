package smbtest_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/smbtest"
	"github.com/ppsync/ppsync/internal/testlog"
)

// outageLines are the lines of a daemon's text log (written from debug
// level on) that tell a reader about an outage: every WARN and ERROR, and
// the INFO lines about the inbox being unreachable, reachable again, a
// lease taken back or results written again. Debug lines are not counted.
// Any line naming a result's temp file (.ppsync-…) is counted too.
func outageLines(log string) (counted []string) {
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, "level=WARN"), strings.Contains(l, "level=ERROR"):
			counted = append(counted, l)
		case strings.Contains(l, "level=DEBUG"):
			if strings.Contains(l, ".ppsync-") {
				counted = append(counted, l)
			}
		case strings.Contains(l, ".ppsync-"), strings.Contains(l, "unreachable"), strings.Contains(l, "again"),
			strings.Contains(l, "taken back"), strings.Contains(l, "put off"):
			counted = append(counted, l)
		}
	}
	return counted
}

// The whole daemon on an inbox on a real share whose server goes down for
// a minute while five results come due: the outage is told in at most
// three lines, whatever the number of results and attempts (the watcher's
// when it begins and when it ends; the result writer and the lease meet it
// too and say so at debug level); no line names a temp file;
// every result is written once the server is back, and nothing is charged
// twice. The outage lasts 60 s with PPSYNC_TEST_HEAVY=1, 10 s otherwise
// (the daemon's retry back-off starts at 2 s and doubles up to a minute:
// 10 s is already several attempts).
func TestShareOutageOfAMinuteLogsAtMostThreeLines(t *testing.T) {
	outage := 10 * time.Second
	if os.Getenv("PPSYNC_TEST_HEAVY") != "" {
		outage = time.Minute
	}
	const (
		files = 5
		// Long enough for the server to be stopped before any document
		// is done: the results come due during the outage.
		processing = 4 * time.Second
	)
	s := smbtest.Start(t)
	emu := emulator.New(emulator.Options{APIKeys: []string{apiKey}, ProcessingTime: processing, Credits: 100,
		RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	const sub = "outage"
	if err := os.MkdirAll(filepath.Join(s.Folder, sub), 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := shareConf{API: srv.URL, Inbox: filepath.Join(s.Mount, sub), Settle: "500ms"}.parse(t)
	logs := &testlog.Buffer{}
	defer startDaemonAt(t, cfg, logs, slog.LevelDebug)()
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(patience.Scale(d))
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v; log:\n%s", what, patience.Scale(d), logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	contents := map[string][]byte{}
	for i := range files {
		b, err := samples.Generate(uint64(8100+i), i, 1).PDF()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("scan%d.pdf", i)
		contents[name] = b
		s.WriteDirect(sub+"/"+name, b)
	}
	onServer := func(name string) string { return filepath.Join(s.Folder, sub, name) }
	written := func() (n int) {
		for name := range contents {
			if _, err := os.Stat(results.ResultPath(onServer(name))); err == nil {
				n++
			}
		}
		return n
	}

	// Every file submitted, then the server down before any is done.
	waitFor("all files submitted", time.Minute, func() bool { return emu.Stats().DocumentsCreated == files })
	before := len(logs.String())
	s.StopServer()
	stopped := time.Now()
	if n := written(); n != 0 {
		t.Fatalf("%d results written before the server was stopped: their processing (%v) is too short for this machine", n, processing)
	}
	for time.Since(stopped) < outage {
		if n := written(); n != 0 {
			t.Fatalf("%d results on the server while it is down", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String()[before:], "cannot write results into the inbox") {
		t.Fatalf("no result write was put off during the %v outage (the results did not come due in it); log:\n%s", outage, logs.String()[before:])
	}
	s.StartServer()
	if err := s.WaitReachable(patience.Scale(time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitFor("every result written after the outage", 2*time.Minute, func() bool { return written() == files })
	waitFor("the outage's end logged", time.Minute, func() bool {
		return strings.Contains(logs.String()[before:], "written into the inbox again")
	})
	// Anything charged again, or any late line, would come within a
	// settle and a few polls.
	time.Sleep(2 * time.Second)
	during := logs.String()[before:]
	lines := outageLines(during)
	t.Logf("a %v outage with %d results due: %d lines about it:\n%s", outage, files, len(lines), strings.Join(lines, "\n"))
	if len(lines) > 3 {
		t.Errorf("the %v outage was told in %d lines, want at most 3:\n%s", outage, len(lines), strings.Join(lines, "\n"))
	}
	if strings.Contains(during, ".ppsync-") {
		t.Errorf("the outage's lines name a result's temp file:\n%s", strings.Join(lines, "\n"))
	}
	if n := emu.Stats().DocumentsCreated; n != files {
		t.Errorf("%d documents charged for %d files, want %d (nothing charged twice)", n, files, files)
	}
	for name, b := range contents {
		src, ok := results.ReadResultSource(onServer(name))
		if !ok || src.SHA256 != sha(b) {
			t.Errorf("%s: result's source %+v (%v), want the file's hash %s", name, src, ok, sha(b))
		}
		if _, err := os.Lstat(results.ErrorPath(onServer(name))); err == nil {
			t.Errorf("%s: an error file was written for it", name)
		}
	}
}
