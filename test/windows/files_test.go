package wintest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// File names a Windows inbox meets, processed by `run --once`.
func TestNames(t *testing.T) {
	e := needWine(t)
	s := e.writeConfig(t, startEmulator(t), "", "recursive = true\n")
	// A path past MAX_PATH (260): nested folders of 50 characters.
	deep := s.inbox
	for len(deep) < 300 {
		deep += `\` + strings.Repeat("d", 49)
	}
	if err := os.MkdirAll(e.cPath(deep), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, win string // the file as Windows sees it
	}{
		{"upper-case extension", s.inbox + `\Invoice.PDF`},
		{"path longer than 260 characters", deep + `\long.pdf`},
	}
	for i, c := range cases {
		if err := os.MkdirAll(filepath.Dir(e.cPath(c.win)), 0o755); err != nil {
			t.Fatal(err)
		}
		dropInvoice(t, e.cPath(c.win), 20+i)
	}
	out := e.must(t, "run", "--once", "-c", s.config)
	for _, c := range cases {
		if len(c.win) > 260 {
			t.Logf("%s: %d characters", c.name, len(c.win)+len(".json"))
		}
		if !exists(e.cPath(c.win + ".json")) {
			t.Errorf("%s: no %s.json:\n%s", c.name, filepath.Base(e.cPath(c.win)), out)
		}
	}
}

// A mapped drive letter: `check` says a service cannot see it, and the
// service refuses to start on it. Wine's drive M: is declared a network
// drive (HKLM\Software\Wine\Drives, set up before the session starts), so
// GetDriveType says DRIVE_REMOTE.
func TestMappedDriveAndUNC(t *testing.T) {
	e := needWine(t)
	api := startEmulator(t)
	if err := os.MkdirAll(e.cPath(mappedShare+`\scans`), 0o755); err != nil {
		t.Fatal(err)
	}
	s := e.writeConfig(t, api, `M:\scans`, `watch = "poll"`+"\n")
	out, err := e.ppsync(t, time.Minute, "check", "-c", s.config)
	if err == nil || !strings.Contains(out, `inbox M:\scans`) || !strings.Contains(out, "a mapped drive letter is invisible to a Windows service") ||
		!strings.Contains(out, `use the UNC path (\\server\share\folder)`) {
		t.Errorf("check with an inbox on a mapped drive: %v\n%s", err, out)
	}
	out, err = e.ppsync(t, time.Minute, "run", "--service", "-c", s.config)
	if err == nil || !strings.Contains(out, `inbox M:\scans is on a mapped drive letter, which a Windows service cannot see: use its UNC path`) {
		t.Errorf("the service on a mapped drive: %v\n%s", err, out)
	}

	// A UNC inbox: the path is taken as it is, and a share that cannot be
	// reached is named in the error.
	s = e.writeConfig(t, api, `\\fileserver\scans\invoices`, `watch = "poll"`+"\n")
	out, err = e.ppsync(t, time.Minute, "check", "-c", s.config)
	if err == nil || !strings.Contains(out, `PROBLEM  inbox \\fileserver\scans\invoices`) || !strings.Contains(out, "mount its share") {
		t.Errorf("check with an unreachable UNC inbox: %v\n%s", err, out)
	}
}

// holder is winhelper.exe holding a file open with share mode 0.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func (e *wineEnv) hold(t *testing.T, win string) *holder {
	t.Helper()
	cmd := e.win(context.Background(), e.helper, "hold", win)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := h.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("winhelper hold %s: %q, %v", win, line, err)
	}
	return h
}

func (h *holder) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := h.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "released" {
		t.Fatalf("winhelper release: %q, %v", line, err)
	}
}

// A viewer holds a result file open without sharing when the file is
// processed again: the new result waits, logged once, and is written once
// the viewer lets go. (The ledger held by a spreadsheet:
// internal/ledger's TestLedgerHeldOpenWithoutSharing, run by
// TestWindowsPackageTests, with a short retry instead of the minute.)
func TestHeldResult(t *testing.T) {
	e := needWine(t)
	s := e.writeConfig(t, startEmulator(t), "", `ledger = "invoices.csv"`+"\n")
	d := e.startDaemon(t, s)
	src, res := s.inbox+`\a.pdf`, s.inbox+`\a.pdf.json`
	dropInvoice(t, e.cPath(src), 41)
	waitFor(t, "a.pdf.json", 90*time.Second, func() bool { return exists(e.cPath(res)) })
	ledger := e.cPath(s.inbox + `\invoices.csv`)
	waitFor(t, "the ledger row", 60*time.Second, func() bool { b, _ := os.ReadFile(ledger); return strings.Contains(string(b), "INV-2026-00041") })

	hr := e.hold(t, res)
	dropInvoice(t, e.cPath(src), 42) // the file changes: processed again
	waitFor(t, "the failed result write in the log", 90*time.Second, func() bool {
		return strings.Contains(d.out.String(), "cannot write the result file")
	})
	// Let a few retries fail (the poll interval is 500 ms), counted in /metrics.
	c := e.tokenClient(t, s)
	waitFor(t, "three failed writes", 60*time.Second, func() bool {
		_, m := get(t, c, "http://"+s.admin+"/metrics")
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, "ppsync_result_write_errors_total "); ok {
				n, err := strconv.Atoi(v)
				return err == nil && n >= 3
			}
		}
		return false
	})
	if n := strings.Count(d.out.String(), "cannot write the result file"); n != 1 {
		t.Errorf("the held result file was logged %d times, want once:\n%s", n, d.out.String())
	}
	hr.release(t)
	waitFor(t, "the new result", 90*time.Second, func() bool { b, _ := os.ReadFile(e.cPath(res)); return strings.Contains(string(b), "INV-2026-00042") })
	waitFor(t, "the new ledger row", 60*time.Second, func() bool { b, _ := os.ReadFile(ledger); return strings.Contains(string(b), "INV-2026-00042") })
	if err := d.stop(t); err != nil {
		t.Errorf("stop: %v", err)
	}
}
