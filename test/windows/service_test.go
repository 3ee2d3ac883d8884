package wintest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ppsync under Wine's Service Control Manager: `install` up to the settings
// Wine lacks, then the service created with sc.exe, started with
// `ppsync start`, a dropped file processed, `status` and the status page,
// the log file and its rotation, `ppsync stop`, `ppsync uninstall`.
func TestService(t *testing.T) {
	e := needWine(t)
	s := e.writeConfig(t, startEmulator(t), "", "")
	const installed = `C:\Program Files\ppsync\ppsync.exe`
	logDir := `C:\ProgramData\ppsync\logs`
	_ = os.RemoveAll(e.cPath(`C:\ProgramData\ppsync`))

	// install: every step runs until the first setting Wine 8 lacks;
	// the half-made service is removed again.
	out, err := e.ppsync(t, 2*time.Minute, "install", "-c", s.config)
	if err == nil {
		t.Fatalf("install passed under Wine, whose service manager has no service SIDs: update docs/install.md\n%s", out)
	}
	for _, want := range []string{"copied ", " of service ppsync: Invalid level", "Wine 8 does not", "the new service ppsync was removed again"} {
		if !strings.Contains(out, want) {
			t.Errorf("install under Wine: output lacks %q:\n%s", want, out)
		}
	}
	if !exists(e.cPath(installed)) || !exists(e.cPath(logDir)) {
		t.Errorf("install did not copy the binary or create %s", logDir)
	}
	if out := e.must(t, "status", "-c", s.config); !strings.Contains(out, "service:   not installed") {
		t.Errorf("after the failed install, status:\n%s", out)
	}

	// The service as install would make it, less the settings Wine lacks.
	ctx := t.Context()
	bin := `"` + installed + `" run --service -c ` + s.config
	if out, err := e.win(ctx, "sc.exe", "create", "ppsync", "binPath=", bin, "start=", "demand", "DisplayName=", "ppsync").CombinedOutput(); err != nil {
		t.Fatalf("sc.exe create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = e.win(t.Context(), "sc.exe", "delete", "ppsync").Run() })
	if out := e.must(t, "status", "-c", s.config); !strings.Contains(out, "service:   installed, stopped") {
		t.Errorf("status after sc.exe create:\n%s", out)
	}

	// A full log file: the service rotates it when it opens it.
	full := strings.Repeat("an old log line to fill the file up to the rotation size\n", 10*1024*1024/56+1)
	writeFile(t, e.cPath(logDir+`\ppsync.log`), full)

	out = e.must(t, "start")
	if !strings.Contains(out, "start: done") {
		t.Fatalf("ppsync start:\n%s", out)
	}
	waitFor(t, "the service's admin endpoint", 60*time.Second, func() bool {
		resp, err := http.Get("http://" + s.admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	dropInvoice(t, e.cPath(s.inbox+`\service.pdf`), 4)
	waitFor(t, "service.pdf.json", 90*time.Second, func() bool { return exists(e.cPath(s.inbox + `\service.pdf.json`)) })
	out = e.must(t, "status", "-c", s.config)
	for _, want := range []string{"is running", "service:   installed, running"} {
		if !strings.Contains(out, want) {
			t.Errorf("status while the service runs lacks %q:\n%s", want, out)
		}
	}
	if code, page := get(t, signIn(t, out), "http://"+s.admin+"/"); code != http.StatusOK || !strings.Contains(page, "<title>ppsync</title>") {
		t.Errorf("status page from the service: %d %.200s", code, page)
	}
	logFile := e.cPath(logDir + `\ppsync.log`)
	if l := readFile(t, logFile); !strings.Contains(l, `msg="ppsync started"`) || strings.Contains(l, "an old log line") {
		t.Errorf("%s after the start (%d bytes): want the new run only:\n%.2000s", logDir+`\ppsync.log`, len(l), l)
	}
	backups, _ := filepath.Glob(filepath.Join(e.cPath(logDir), "ppsync-*.log"))
	if len(backups) != 1 {
		t.Errorf("rotated logs in %s: %q, want one", logDir, backups)
	} else if fi, err := os.Stat(backups[0]); err != nil || fi.Size() != int64(len(full)) {
		t.Errorf("rotated log %s: %v, want the old %d bytes", backups[0], err, len(full))
	}

	out = e.must(t, "stop")
	if !strings.Contains(out, "stop: done") {
		t.Fatalf("ppsync stop:\n%s", out)
	}
	waitFor(t, "the service to stop", 60*time.Second, func() bool {
		out, _ := e.ppsync(t, time.Minute, "status", "-c", s.config)
		return strings.Contains(out, "service:   installed, stopped") && strings.Contains(out, "ppsync is not running")
	})
	if l := readFile(t, logFile); !strings.Contains(l, `msg="ppsync stopped"`) {
		t.Errorf("no clean stop in the service's log:\n%s", l)
	}
	if exists(e.cPath(s.inbox + `\.ppsync-lease.json`)) {
		t.Errorf("the lease file is still in the inbox after the service stopped")
	}

	out = e.must(t, "uninstall")
	if !strings.Contains(out, "uninstall: done") {
		t.Errorf("ppsync uninstall:\n%s", out)
	}
	if out := e.must(t, "status", "-c", s.config); !strings.Contains(out, "service:   not installed") {
		t.Errorf("status after uninstall:\n%s", out)
	}
}
