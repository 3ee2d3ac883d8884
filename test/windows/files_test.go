package wintest

import (
	"bufio"
	"context"
	"fmt"
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
		out       string // the output beside it: ".json", or ".error.json"
	}{
		{"upper-case extension", s.inbox + `\Invoice.PDF`, ".json"},
		{"path longer than 260 characters", deep + `\long.pdf`, ".json"},
		// Folders made by a Mac or Linux client: Win32 paths drop the
		// trailing dot or space, so they are opened by their \\?\ paths.
		{"folder name ending in a dot", s.inbox + `\ACME Inc.\dot.pdf`, ".json"},
		{"folder name ending in a space", s.inbox + `\Trailing space \space.pdf`, ".json"},
		{"folders ending in a dot and a space, deeper", s.inbox + `\ACME Inc.\2026 \Q1.\deep.pdf`, ".json"},
		{"an error file in a folder ending in a dot", s.inbox + `\ACME Inc.\photo.heic`, ".error.json"},
	}
	for i, c := range cases {
		if err := os.MkdirAll(filepath.Dir(e.cPath(c.win)), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(c.win, ".heic") {
			writeFile(t, e.cPath(c.win), "\x00\x00\x00\x18ftypheic")
			continue
		}
		dropInvoice(t, e.cPath(c.win), 20+i)
	}
	// The HEIC file is refused (its error file says to convert it): exit 1.
	out, err := e.ppsync(t, 2*time.Minute, "run", "--once", "-c", s.config)
	if err == nil || !strings.Contains(out, "5 done, 0 failed, 1 refused before upload") {
		t.Errorf("run --once: %v, want 5 done and 1 refused:\n%s", err, out)
	}
	for _, c := range cases {
		if len(c.win) > 260 {
			t.Logf("%s: %d characters", c.name, len(c.win)+len(".json"))
		}
		if !exists(e.cPath(c.win + c.out)) {
			t.Errorf("%s: no %s%s:\n%s", c.name, c.win, c.out, out)
		}
	}
}

// Folders whose names end in a dot or a space, watched by a live daemon
// that moves finished files: a file dropped into one is found through its
// change events (the rescan is 10 minutes away), processed, and moved with
// its result into the processed folder, under the same folder names.
func TestTrailingDotLive(t *testing.T) {
	e := needWine(t)
	base := `C:\t\` + t.Name()
	s := e.writeConfig(t, startEmulator(t), "", "recursive = true\nafter = \"move\"\nrescan_interval = \"10m\"\n"+
		"processed_dir = '"+base+`\processed'`+"\nfailed_dir = '"+base+`\failed'`+"\n")
	for _, dir := range []string{`\ACME Inc.`, `\Trailing space `} {
		if err := os.MkdirAll(e.cPath(s.inbox+dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dropInvoice(t, e.cPath(s.inbox+`\ACME Inc.\first.pdf`), 51) // found by the first scan
	d := e.startDaemon(t, s)
	processed := base + `\processed`
	waitFor(t, `processed\ACME Inc.\first.pdf.json`, 90*time.Second, func() bool {
		return exists(e.cPath(processed + `\ACME Inc.\first.pdf.json`))
	})
	for i, win := range []string{`\ACME Inc.\live.pdf`, `\Trailing space \live.pdf`} {
		dropInvoice(t, e.cPath(s.inbox+win), 52+i)
		waitFor(t, `processed`+win+`.json`, 90*time.Second, func() bool {
			return exists(e.cPath(processed + win + ".json"))
		})
		if !exists(e.cPath(processed+win)) || exists(e.cPath(s.inbox+win)) {
			t.Errorf("%s was not moved into %s", s.inbox+win, processed)
		}
		if b := readFile(t, e.cPath(processed+win+".json")); !strings.Contains(b, fmt.Sprintf("INV-2026-%05d", 52+i)) {
			t.Errorf("processed%s.json: %.300s", win, b)
		}
	}
	// A refused file: its error file, moved with it into the failed folder.
	writeFile(t, e.cPath(s.inbox+`\ACME Inc.\photo.heic`), "\x00\x00\x00\x18ftypheic")
	failed := base + `\failed\ACME Inc.\photo.heic`
	waitFor(t, failed+".error.json", 90*time.Second, func() bool { return exists(e.cPath(failed + ".error.json")) })
	if !exists(e.cPath(failed)) {
		t.Errorf("photo.heic was not moved into %s", failed)
	}
	if strings.Contains(d.out.String(), "level=WARN") && strings.Contains(d.out.String(), "cannot") {
		t.Errorf("warnings while watching the folders:\n%s", d.out.String())
	}
	if !strings.Contains(d.out.String(), "mode=events+rescan") {
		t.Errorf("the daemon does not watch with change events:\n%s", d.out.String())
	}
	if err := d.stop(t); err != nil {
		t.Errorf("stop: %v", err)
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
