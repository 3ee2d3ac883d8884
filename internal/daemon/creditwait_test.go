package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/uploader"
)

// get fetches path from the admin endpoint of cfg's daemon with the token
// the daemon wrote for local clients, as the CLI sends it.
func get(t *testing.T, cfg *config.Config, path string) string {
	t.Helper()
	tok, err := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	if err != nil {
		t.Fatalf("read the daemon's token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Admin.Listen+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return string(b)
}

// No head-of-line blocking on credits: with 50 credits, a 60-page file
// dropped first waits (said in status, on the status page and in the
// metrics) while three 1-page files behind it, in two inboxes, get their
// results; a top-up lets it go; nothing is charged twice.
func TestLargeFileWaitsForCreditsSmallOnesGoAhead(t *testing.T) {
	e := newEnv(t, emulator.Options{Credits: 50})
	listen := "127.0.0.1:" + port(t)
	cfg := e.webConfig(listen, "", "big", "small")
	stop := e.start(cfg)
	defer stop()
	big := filepath.Join(e.root, "big", "annual-report.pdf")
	write(t, big, pdf(t, 1, 60))
	e.waitFor("the large file to be held back", 20*time.Second, func() bool {
		return len(status(t, cfg).CreditWaits) == 1
	})
	var small []string
	for i := range 3 {
		dir := "small"
		if i == 0 {
			dir = "big" // the same inbox as the large file, behind it
		}
		p := filepath.Join(e.root, dir, fmt.Sprintf("receipt-%d.pdf", i))
		write(t, p, pdf(t, 10+i, 1))
		small = append(small, p)
	}
	e.waitFor("the three small results", 20*time.Second, func() bool {
		for _, p := range small {
			if !exists(results.ResultPath(p)) {
				return false
			}
		}
		return true
	})
	if exists(results.ResultPath(big)) || exists(results.ErrorPath(big)) {
		t.Fatal("the 60-page file has an output with 50 credits")
	}

	// ppsync status: the file, what it needs, what is available, counted
	// (a result is recorded just after its file is written).
	var rep report.Report
	e.waitFor("the small results recorded", 20*time.Second, func() bool {
		rep = status(t, cfg)
		return rep.Inboxes[0].Files[report.InFlight] == 0 && rep.Inboxes[0].Files[report.Queued] == 0
	})
	want := report.CreditWait{Path: big, Inbox: filepath.Join(e.root, "big"), Needs: 60, Available: 47}
	if len(rep.CreditWaits) != 1 || rep.CreditWaits[0] != want {
		t.Errorf("credit waits %+v, want %+v", rep.CreditWaits, want)
	}
	if !rep.WaitingForCredits || rep.Inboxes[0].Files[report.WaitingCredits] != 1 || rep.Inboxes[0].Files[report.Done] != 1 {
		t.Errorf("status: waiting=%v files=%v", rep.WaitingForCredits, rep.Inboxes[0].Files)
	}
	var text strings.Builder
	rep.WriteText(&text, listen)
	if !strings.Contains(text.String(), big+" needs 60 credits, 47 available") {
		t.Errorf("ppsync status does not say what the file needs:\n%s", text.String())
	}
	// The status page: the file's state and reason.
	var fd struct {
		State, Code, Reason string
	}
	if err := json.Unmarshal([]byte(get(t, cfg, "/ui/api/file?path="+url.QueryEscape(big))), &fd); err != nil {
		t.Fatal(err)
	}
	if fd.Code != uploader.CodeWaitingCredits || !strings.Contains(fd.Reason, "needs 60 credits, 47 available") {
		t.Errorf("status page: %+v", fd)
	}
	// The metrics.
	metrics := get(t, cfg, "/metrics")
	for _, m := range []string{
		fmt.Sprintf(`ppsync_files{inbox=%q,state="waiting_for_credits"} 1`, filepath.Join(e.root, "big")),
		"ppsync_waiting_for_credits 1",
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	e.emu.SetCredits(100)
	e.waitFor("the large file's result after a top-up", 20*time.Second, func() bool { return exists(results.ResultPath(big)) })
	e.waitFor("the wait to end in status", 10*time.Second, func() bool {
		r := status(t, cfg)
		return len(r.CreditWaits) == 0 && !r.WaitingForCredits
	})
	if st := e.emu.Stats(); st.DocumentsCreated != 4 || st.PagesCharged != 63 {
		t.Errorf("documents_created=%d pages_charged=%d, want 4 and 63", st.DocumentsCreated, st.PagesCharged)
	}
}
