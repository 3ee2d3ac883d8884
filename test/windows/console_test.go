package wintest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The demo: its own emulator, seven samples, one refused before upload.
func TestDemo(t *testing.T) {
	e := needWine(t)
	dir := e.testDir(t)
	out := e.must(t, "demo", "--once", "--dir", dir)
	for _, want := range []string{"6 done, 0 failed, 1 refused before upload", `\inbox\invoices.csv`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !exists(e.cPath(dir + `\inbox\invoice-acme.pdf.json`)) {
		t.Errorf("no result for invoice-acme.pdf in %s", dir)
	}
}

// check, then run --once over an inbox on C:.
func TestCheckAndRunOnce(t *testing.T) {
	e := needWine(t)
	s := e.writeConfig(t, startEmulator(t), "", "")
	for i, name := range []string{"a.pdf", "b.pdf"} {
		dropInvoice(t, e.cPath(s.inbox+`\`+name), i+1)
	}
	out := e.must(t, "check", "-c", s.config)
	if !strings.Contains(out, "all checks passed") || !strings.Contains(out, "inbox "+s.inbox) {
		t.Errorf("check:\n%s", out)
	}
	out = e.must(t, "run", "--once", "-c", s.config)
	for i, name := range []string{"a.pdf", "b.pdf"} {
		res := e.cPath(s.inbox + `\` + name + ".json")
		if !exists(res) {
			t.Fatalf("no %s.json after run --once:\n%s", name, out)
		}
		if want := []string{"INV-2026-00001", "INV-2026-00002"}[i]; !strings.Contains(readFile(t, res), want) {
			t.Errorf("%s.json lacks %s", name, want)
		}
	}
}

// A live daemon: a dropped file is seen through ReadDirectoryChangesW and
// processed; `status` and the status page answer while it runs; Ctrl+C
// stops it cleanly, releasing the inbox's lease.
func TestDaemonStatusPageAndStop(t *testing.T) {
	e := needWine(t)
	s := e.writeConfig(t, startEmulator(t), "", `rescan_interval = "10m"`)
	d := e.startDaemon(t, s)
	lease := e.cPath(s.inbox + `\.ppsync-lease.json`)
	if !exists(lease) {
		t.Fatalf("no lease file in the inbox while the daemon runs")
	}
	dropped := time.Now()
	dropInvoice(t, e.cPath(s.inbox+`\live.pdf`), 3)
	res := e.cPath(s.inbox + `\live.pdf.json`)
	// The rescan is 10 minutes away: only a change event can find the file this soon.
	waitFor(t, "live.pdf.json", 90*time.Second, func() bool { return exists(res) })
	t.Logf("live.pdf.json written %s after the drop", time.Since(dropped).Round(100*time.Millisecond))
	if !strings.Contains(d.out.String(), "mode=events+rescan") {
		t.Errorf("the daemon does not watch with change events:\n%s", d.out.String())
	}

	out := e.must(t, "status", "-c", s.config)
	for _, want := range []string{"is running", "http://" + s.admin + "/", "inbox " + s.inbox} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// The page needs a credential, on loopback too: the link status printed.
	if code, _ := get(t, http.DefaultClient, "http://"+s.admin+"/status"); code != http.StatusUnauthorized {
		t.Errorf("GET /status without a credential: %d, want 401", code)
	}
	c := signIn(t, out)
	code, page := get(t, c, "http://"+s.admin+"/")
	if code != http.StatusOK || !strings.Contains(page, "<title>ppsync status</title>") {
		t.Errorf("status page: %d\n%.300s", code, page)
	}
	code, body := get(t, c, "http://"+s.admin+"/status")
	var st map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Errorf("GET /status: %d %.500s", code, body)
	}

	if err := d.stop(t); err != nil {
		t.Fatalf("ppsync.exe run exited with %v after Ctrl+C:\n%s", err, d.out.String())
	}
	if !strings.Contains(d.out.String(), `msg="ppsync stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", d.out.String())
	}
	if exists(lease) {
		t.Errorf("the lease file is still in the inbox after the stop")
	}
	// The state was closed: status reads it without the daemon.
	out = e.must(t, "status", "-c", s.config)
	if !strings.Contains(out, "ppsync is not running") || !regexp.MustCompile(`(?m)^\s+0\s+0\s+0\s+1\s+0\s+0\s+0\s*$`).MatchString(out) {
		t.Errorf("status after the stop: want not running, one done:\n%s", out)
	}
}
