package wintest

import (
	"context"
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
	if code, page := get(t, signIn(t, out), "http://"+s.admin+"/"); code != http.StatusOK || !strings.Contains(page, "<title>ppsync status</title>") {
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

// Two configs side by side, as `ppsync install --name` makes them: each
// install runs up to the settings Wine lacks (its own binary and folders
// made), a second config on the first one's admin address is refused, then
// the services ppsync-acme and ppsync-beta are created with sc.exe as
// install would, less those settings. Each is started, queried, stopped
// and uninstalled by its --name, processes its own inbox and logs to its
// own folder.
func TestServiceNamed(t *testing.T) {
	e := needWine(t)
	api := startEmulator(t)
	base := e.testDir(t)
	names := []string{"acme", "beta"}
	setups := map[string]setup{}
	for _, n := range names {
		dataDir := `C:\ProgramData\ppsync\` + n
		_ = os.RemoveAll(e.cPath(dataDir))
		// The instance's default config: install, start and status find it by --name.
		setups[n] = e.writeConfigIn(t, dataDir, api, base+`\`+n+`-inbox`, "")
		t.Cleanup(func() { _ = e.win(context.Background(), "sc.exe", "delete", "ppsync-"+n).Run() })
	}

	// A second config on the first one's admin address is refused.
	acme, beta := setups["acme"], setups["beta"]
	clash := strings.Replace(readFile(t, e.cPath(beta.config)), beta.admin, acme.admin, 1)
	writeFile(t, e.cPath(beta.config), clash)
	out, err := e.ppsync(t, 2*time.Minute, "install", "--name", "beta")
	if err == nil || !strings.Contains(out, `both set [admin] listen = "`+acme.admin+`"`) || !strings.Contains(out, `ppsync\acme\config.toml`) {
		t.Errorf("install --name beta with acme's admin address: %v\n%s", err, out)
	}
	writeFile(t, e.cPath(beta.config), strings.Replace(clash, `listen = "`+acme.admin+`"`, `listen = "`+beta.admin+`"`, 1))

	for _, n := range names {
		out, err := e.ppsync(t, 2*time.Minute, "install", "--name", n)
		if err == nil {
			t.Fatalf("install --name %s passed under Wine, whose service manager has no service SIDs: update docs/install.md\n%s", n, out)
		}
		for _, want := range []string{`copied `, `C:\Program Files\ppsync\` + n + `\ppsync.exe`, " of service ppsync-" + n + ": Invalid level", "the new service ppsync-" + n + " was removed again"} {
			if !strings.Contains(out, want) {
				t.Errorf("install --name %s under Wine: output lacks %q:\n%s", n, want, out)
			}
		}
		if !exists(e.cPath(`C:\ProgramData\ppsync\` + n + `\logs`)) {
			t.Errorf("install --name %s did not create its logs folder", n)
		}
		bin := `"C:\Program Files\ppsync\` + n + `\ppsync.exe" run --service --name ` + n + ` -c ` + setups[n].config
		if out, err := e.win(t.Context(), "sc.exe", "create", "ppsync-"+n, "binPath=", bin, "start=", "demand", "DisplayName=", "ppsync "+n).CombinedOutput(); err != nil {
			t.Fatalf("sc.exe create ppsync-%s: %v\n%s", n, err, out)
		}
	}
	for i, n := range names {
		if out := e.must(t, "start", "--name", n); !strings.Contains(out, "start: done") {
			t.Fatalf("ppsync start --name %s:\n%s", n, out)
		}
		dropInvoice(t, e.cPath(setups[n].inbox+`\`+n+`.pdf`), 60+i)
	}
	for _, n := range names {
		s := setups[n]
		waitFor(t, n+".pdf.json", 90*time.Second, func() bool { return exists(e.cPath(s.inbox + `\` + n + ".pdf.json")) })
		if out := e.must(t, "status", "--name", n); !strings.Contains(out, "service:   installed, running") || !strings.Contains(out, "inbox "+s.inbox) {
			t.Errorf("status --name %s:\n%s", n, out)
		}
	}
	for _, n := range names {
		l := readFile(t, e.cPath(`C:\ProgramData\ppsync\`+n+`\logs\ppsync.log`))
		other := names[0]
		if n == other {
			other = names[1]
		}
		if !strings.Contains(l, n+".pdf") || strings.Contains(l, other+".pdf") {
			t.Errorf("the log of ppsync-%s: want its own file only:\n%.3000s", n, l)
		}
	}

	// Stopping acme leaves beta running.
	if out := e.must(t, "stop", "--name", "acme"); !strings.Contains(out, "stop: done") {
		t.Fatalf("ppsync stop --name acme:\n%s", out)
	}
	waitFor(t, "ppsync-acme to stop", 60*time.Second, func() bool {
		out, _ := e.ppsync(t, time.Minute, "status", "--name", "acme")
		return strings.Contains(out, "service:   installed, stopped")
	})
	if out := e.must(t, "status", "--name", "beta"); !strings.Contains(out, "service:   installed, running") {
		t.Errorf("beta after acme stopped:\n%s", out)
	}
	if out := e.must(t, "stop", "--name", "beta"); !strings.Contains(out, "stop: done") {
		t.Errorf("ppsync stop --name beta:\n%s", out)
	}
	for _, n := range names {
		if out := e.must(t, "uninstall", "--name", n); !strings.Contains(out, "uninstall: done") || !strings.Contains(out, `ppsync\`+n) {
			t.Errorf("ppsync uninstall --name %s:\n%s", n, out)
		}
		if out := e.must(t, "status", "--name", n); !strings.Contains(out, "service:   not installed") {
			t.Errorf("status --name %s after uninstall:\n%s", n, out)
		}
	}
}
