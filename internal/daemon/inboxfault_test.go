package daemon_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
)

const secondInbox = `
[[inbox]]
path = "inbox2"
parser_id = "prs_invoice"
settle = "150ms"
incomplete_after = "2s"
rescan_interval = "300ms"
`

func healthz(t *testing.T, listen string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + listen + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An inbox deleted while two run: the other keeps producing results, the
// daemon stays up past the lease renewal that used to stop it, /healthz
// names the missing inbox, and the inbox heals when it is created again.
func TestRemovedInboxIsLocalAndHeals(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	gone := filepath.Join(e.root, "inbox2")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(secondInbox)
	cfg.Admin.Listen = freePort(t)
	stop := e.start(cfg)
	first := filepath.Join(gone, "first.pdf")
	write(t, first, pdf(t, 1, 1))
	e.waitFor("the first result in inbox2", 20*time.Second, func() bool { return exists(results.ResultPath(first)) })

	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	e.waitFor("/healthz to name the removed inbox", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, gone)
	})
	// Past a lease renewal (every 10 s): that used to end the daemon.
	e.waitFor("the lease renewal to meet the removed inbox", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "inbox lease not renewed")
	})
	other := filepath.Join(e.inbox, "other.pdf")
	write(t, other, pdf(t, 2, 1))
	e.waitFor("a result in the healthy inbox", 20*time.Second, func() bool { return exists(results.ResultPath(other)) })
	if n := strings.Count(e.logs.String(), "inbox is unreachable"); n != 1 {
		t.Errorf("the unreachable inbox was logged %d times, want once", n)
	}

	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(gone, "back.pdf")
	write(t, back, pdf(t, 3, 1))
	e.waitFor("a result in the recreated inbox", 20*time.Second, func() bool { return exists(results.ResultPath(back)) })
	e.waitFor("the lease taken back", 20*time.Second, func() bool { return exists(filepath.Join(gone, lease.FileName)) })
	e.waitFor("/healthz ok again", 10*time.Second, func() bool {
		code, _ := healthz(t, cfg.Admin.Listen)
		return code == http.StatusOK
	})
	if strings.Contains(e.logs.String(), "files appeared without a change event") {
		t.Error("the network-share warning was logged for an inbox that came back")
	}
	// first.pdf left with its folder: the rescan of the recreated inbox
	// finds it missing and its record is let go, after the other results.
	// back.pdf's result file is on disk before its record says done (the
	// batch records it once its folder is synced), so one done file alone
	// could still be first.pdf: wait until nothing is queued or in flight.
	e.waitFor("first.pdf let go", 20*time.Second, func() bool {
		for _, in := range status(t, cfg).Inboxes {
			if in.Path == gone {
				return in.Files[report.Done] == 1 && in.Files[report.Queued]+in.Files[report.InFlight] == 0
			}
		}
		return false
	})
	sum := stop()
	if sum.Done != 2 || !sum.OK() { // first.pdf left with its folder
		t.Errorf("summary %+v, want 2 done", sum)
	}
}

// A missing inbox at start-up: the daemon starts and serves the others;
// --once lists it and fails.
func TestMissingInboxAtStart(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config(secondInbox)
	ok := filepath.Join(e.inbox, "ok.pdf")
	write(t, ok, pdf(t, 1, 1))
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatalf("--once with a missing inbox: %v", err)
	}
	missing := filepath.Join(e.root, "inbox2")
	if sum.OK() || sum.Done != 1 || len(sum.Unreachable) != 1 || !strings.Contains(sum.Unreachable[0], missing) {
		t.Errorf("summary %+v: want 1 done and the missing inbox listed", sum)
	}

	stop := e.start(cfg)
	defer stop()
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	late := filepath.Join(missing, "late.pdf")
	write(t, late, pdf(t, 2, 1))
	e.waitFor("a result in the inbox created after start", 20*time.Second, func() bool { return exists(results.ResultPath(late)) })
	e.waitFor("its lease", 20*time.Second, func() bool { return exists(filepath.Join(missing, lease.FileName)) })
}
