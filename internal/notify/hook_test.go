package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/notify"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/statetest"
)

// hookConfig parses tables with the state in a temporary folder.
func hookConfig(t *testing.T, tables string) *config.Config {
	t.Helper()
	cfg := notifyConfig(t, tables)
	cfg.State.Path = filepath.Join(t.TempDir(), "state.db")
	return cfg
}

// startHook makes a Hook for cfg over a fresh state, recovers it and runs
// it until the returned stop is called (which waits for Run to return).
func startHook(t *testing.T, cfg *config.Config, logs *syncBuf) (h *notify.Hook, stop func()) {
	t.Helper()
	h, err := notify.NewHook(notify.HookOptions{Config: cfg, Store: statetest.Open(t), Activity: activity.New(nil),
		Tune: notify.Options{Check: 10 * time.Millisecond, Backoff: 10 * time.Millisecond, Host: "scan01"},
		Log:  slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.Lend(func() (report.Report, error) { return report.Report{}, nil }, func() string { return "" })
	if err := h.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	return h, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// A marker left by the last run is reported as an unclean stop, and
// replaced by this run's; a clean stop removes it, so the next start
// reports nothing. A failed file is told to the target.
func TestHookReportsAnUncleanStopAndKeepsTheMarker(t *testing.T) {
	r := newReceiver(t, 0)
	cfg := hookConfig(t, fmt.Sprintf(`
[[notify]]
name = "hook"
url = "webhook+http://%s/ppsync"
group_window = "10ms"
`, r.srv.Listener.Addr()))
	marker := notify.RunningMarker(cfg.State.Path)
	if err := os.WriteFile(marker, []byte("started yesterday, pid 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	h, stop := startHook(t, cfg, logs)
	mine, err := os.ReadFile(marker)
	if err != nil || !strings.Contains(string(mine), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("marker while running %q (%v), want this run's", mine, err)
	}
	q := r.wait(t, "the restart message")
	if q.Body["event"] != "restart" || !strings.Contains(fmt.Sprint(q.Body["text"]), "did not end cleanly (started yesterday, pid 1)") ||
		!strings.Contains(fmt.Sprint(q.Body["text"]), cfg.State.Path) {
		t.Errorf("restart message %v", q.Body)
	}
	if !strings.Contains(logs.String(), "the last run did not end cleanly") {
		t.Errorf("the unclean stop is not logged:\n%s", logs.String())
	}
	h.Written(context.Background(), finish.Written{File: state.File{Path: "/in/broken.pdf", State: state.FileInvalid, Code: "INVALID_PDF", Reason: "no trailer"}})
	q = r.wait(t, "the failure message")
	if q.Body["event"] != "failures" || !strings.Contains(fmt.Sprint(q.Body["text"]), "/in/broken.pdf") {
		t.Errorf("failure message %v", q.Body)
	}
	if len(h.Collectors()) != 1 {
		t.Errorf("collectors %v, want the notifier's", h.Collectors())
	}
	stop()
	if exists(marker) {
		t.Fatal("the marker is still there after a clean stop")
	}

	// The next start finds no marker: nobody is told of a crash.
	_, stop = startHook(t, cfg, logs)
	stop()
	select {
	case q := <-r.got:
		t.Errorf("a clean start sent %v", q.Body)
	case <-time.After(100 * time.Millisecond):
	}
}

// Without [[notify]] the marker is still kept: laid at Recover, removed
// at a clean stop.
func TestHookWithoutTargetsKeepsTheMarker(t *testing.T) {
	cfg := hookConfig(t, "")
	h, stop := startHook(t, cfg, &syncBuf{})
	if !exists(notify.RunningMarker(cfg.State.Path)) {
		t.Error("no marker while the daemon runs")
	}
	if len(h.Collectors()) != 0 {
		t.Errorf("collectors without [[notify]]: %v", h.Collectors())
	}
	h.Written(context.Background(), finish.Written{File: state.File{Path: "/in/a.pdf", State: state.FileFailed}})
	stop()
	if exists(notify.RunningMarker(cfg.State.Path)) {
		t.Error("the marker is still there after a clean stop")
	}
}

// The digest's failures are the files without a result updated in
// [from, to), gone ones left out, at most limit of them with the total.
func TestHookSourceListsTheFailuresOfAPeriod(t *testing.T) {
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	var files []state.File
	for _, f := range []state.File{
		{Path: "/in/before.pdf", State: state.FileFailed, Updated: day.Add(-time.Minute)},
		{Path: "/in/a.pdf", State: state.FileFailed, Code: "X", Reason: "r", Updated: day},
		{Path: "/in/b.pdf", State: state.FileInvalid, Updated: day.Add(time.Hour)},
		{Path: "/in/c.pdf", State: state.FileInvalid, Updated: day.Add(2 * time.Hour)},
		{Path: "/in/gone.pdf", State: state.FileGone, Updated: day.Add(time.Hour)},
		{Path: "/in/done.pdf", State: state.FileDone, Updated: day.Add(time.Hour)},
		{Path: "/in/after.pdf", State: state.FileFailed, Updated: day.AddDate(0, 0, 1)},
	} {
		f.Inbox = "/in"
		files = append(files, f)
	}
	s := notify.HookSource(statetest.Open(t, files...), nil, nil, nil)
	got, total, err := s.FailedBetween(day, day.AddDate(0, 0, 1), 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(got) != 2 {
		t.Fatalf("failures %+v of %d, want 2 of 3", got, total)
	}
	for _, f := range got {
		if f.At.Before(day) || !f.At.Before(day.AddDate(0, 0, 1)) {
			t.Errorf("failure %+v outside the day", f)
		}
	}
}

// Health reads the inboxes and credits from the status, the API's outage,
// and the burn rate (and the credits when the status has none) from the
// activity.
func TestHookSourceHealth(t *testing.T) {
	rec := activity.New(nil)
	rec.Credits(500)
	healthy, sick := true, false
	credits := 42
	for _, tc := range []struct {
		name      string
		status    func() (report.Report, error)
		fault     string
		inboxes   int
		wantCreds int
	}{
		{"status", func() (report.Report, error) {
			return report.Report{CreditsAvailable: &credits, Inboxes: []report.Inbox{{Path: "/a", Healthy: &healthy}, {Path: "/b", Healthy: &sick, Error: "gone"}}}, nil
		}, "", 2, 42},
		{"no status", func() (report.Report, error) { return report.Report{}, errors.New("state closed") }, "API down", 0, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := notify.HookSource(nil, rec, tc.status, func() string { return tc.fault })
			h := s.Health()
			if len(h.Inboxes) != tc.inboxes || h.Credits == nil || *h.Credits != tc.wantCreds || h.APIDown != (tc.fault != "") || h.APIError != tc.fault {
				t.Fatalf("health %+v", h)
			}
			if tc.inboxes == 2 && (!h.Inboxes[0].Healthy || h.Inboxes[1].Healthy || h.Inboxes[1].Error != "gone") {
				t.Errorf("inboxes %+v", h.Inboxes)
			}
		})
	}
}
