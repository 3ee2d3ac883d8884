package offline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/offline"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
)

const key = "pp_test_parity"

// install is a ppsync installation that has run once against the
// emulator: one file done, one failed at the API, one refused, and its
// state saved so that each call starts from the same one.
type install struct {
	cfg                   *config.Config
	done, failed, refused string
	untracked             string
	saved                 []byte
}

func newInstall(t *testing.T) *install {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{key}, ProcessingTime: 5 * time.Millisecond, RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	text := fmt.Sprintf(`
[api]
base_url = %q
api_key = %q
rate_window = "1s"
[state]
path = "state/ppsync.db"
[upload]
batch_window = "100ms"
[poll]
interval = "100ms"
[admin]
listen = %q
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "150ms"
rescan_interval = "300ms"
ledger = "ledger.csv"
`, srv.URL, key, listen)
	cfg, err := config.Parse(filepath.Join(root, "ppsync.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	in := &install{cfg: cfg, done: filepath.Join(inbox, "done.pdf"), failed: filepath.Join(inbox, "failed.pdf"),
		refused: filepath.Join(inbox, "refused.pdf"), untracked: filepath.Join(inbox, "never-seen.pdf")}
	good := samples.Generate(7, 1, 2)
	bad := samples.Generate(7, 2, 1)
	bad.Extra = []string{emulator.FailMarker}
	for path, inv := range map[string]samples.Invoice{in.done: good, in.failed: bad} {
		b, err := inv.PDF()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(in.refused, []byte("not a PDF at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := daemon.Run(ctx, daemon.Options{Config: cfg, APIKey: key, Once: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{in.failed, in.refused} {
		if _, err := os.Stat(results.ErrorPath(p)); err != nil {
			t.Fatalf("%s has no error file after the first run: %v", p, err)
		}
	}
	if _, err := os.Stat(results.ResultPath(in.done)); err != nil {
		t.Fatalf("%s has no result after the first run: %v", in.done, err)
	}
	if in.saved, err = os.ReadFile(cfg.State.Path); err != nil {
		t.Fatal(err)
	}
	return in
}

// restore puts the saved state back.
func (in *install) restore(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(in.cfg.State.Path, in.saved, 0o600); err != nil {
		t.Fatal(err)
	}
}

// live starts the daemon over the saved state and returns its admin
// client; the daemon stops at the end of the test.
func (in *install) live(t *testing.T) control.Control {
	t.Helper()
	in.restore(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := daemon.Run(ctx, daemon.Options{Config: in.cfg, APIKey: key, Ready: ready, Logger: slog.New(slog.DiscardHandler)})
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("the daemon did not stop within 60 s")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the daemon stopped before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not start within 60 s")
	}
	c := admin.NewClient(in.cfg)
	if _, err := c.Identity(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// offline is the offline control over the saved state.
func (in *install) offline(t *testing.T) control.Control {
	t.Helper()
	in.restore(t)
	return offline.New(in.cfg, func(string) string { return "" }, nil)
}

// The running daemon (asked through its admin endpoint) and the state file
// answer every call the same way: the same counts and last errors, the
// same plan and cost, the same files retried and processed again, the
// same ledgers rebuilt.
func TestLiveAndOfflineAnswerAlike(t *testing.T) {
	in := newInstall(t)
	cases := []struct {
		name string
		call func(ctx context.Context, c control.Control) (any, error)
	}{
		{"status", func(ctx context.Context, c control.Control) (any, error) {
			r, err := c.Status(ctx)
			if err != nil {
				return nil, err
			}
			type inbox struct {
				Path   string
				Files  map[string]int
				Errors []string
			}
			var out []inbox
			for _, b := range r.Inboxes {
				var errs []string
				for _, e := range b.LastErrors {
					errs = append(errs, e.Path+" "+e.State+" "+e.Code)
				}
				out = append(out, inbox{Path: b.Path, Files: b.Files, Errors: errs})
			}
			return struct {
				Inboxes    []inbox
				QueueDepth int
				State      string
			}{out, r.QueueDepth, r.State.Path}, nil
		}},
		{"plan reprocess", func(ctx context.Context, c control.Control) (any, error) {
			return c.PlanReprocess(ctx, []string{in.done, in.failed, in.refused, in.untracked})
		}},
		{"plan reprocess of nothing tracked", func(ctx context.Context, c control.Control) (any, error) {
			return c.PlanReprocess(ctx, []string{in.untracked})
		}},
		{"reprocess", func(ctx context.Context, c control.Control) (any, error) {
			return c.Reprocess(ctx, []string{in.done, in.untracked})
		}},
		{"retry named files", func(ctx context.Context, c control.Control) (any, error) {
			a, err := c.Retry(ctx, control.RetryRequest{Paths: []string{in.done, in.failed, in.refused, in.untracked}})
			slices.Sort(a.Retried)
			return a, err
		}},
		{"retry every failed file", func(ctx context.Context, c control.Control) (any, error) {
			a, err := c.Retry(ctx, control.RetryRequest{Failed: true})
			slices.Sort(a.Retried)
			return a, err
		}},
		{"rebuild ledgers", func(ctx context.Context, c control.Control) (any, error) {
			return c.RebuildLedgers(ctx)
		}},
	}
	// What both must answer (besides answering alike).
	untracked := map[string]string{in.untracked: "not tracked by ppsync (never seen, moved away after processing, or not in an inbox)"}
	wants := map[string]any{
		"plan reprocess":                    control.ReprocessAnswer{Files: []string{in.done, in.failed, in.refused}, Pages: 3, Unknown: 1, Skipped: untracked},
		"plan reprocess of nothing tracked": control.ReprocessAnswer{Skipped: untracked},
		"reprocess":                         control.ReprocessAnswer{Files: []string{in.done}, Pages: 2, Skipped: untracked, Reprocessed: []string{in.done}},
		"retry named files":                 control.RetryAnswer{Retried: []string{in.failed, in.refused}},
		"retry every failed file":           control.RetryAnswer{Retried: []string{in.failed, in.refused}},
		"rebuild ledgers":                   control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{{Inbox: filepath.Dir(in.done), Ledger: filepath.Join(filepath.Dir(in.done), "ledger.csv"), Documents: 1}}},
	}
	impls := []struct {
		name string
		open func(t *testing.T) control.Control
	}{
		{"offline", in.offline},
		{"live", in.live},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var answers []any
			for _, impl := range impls {
				t.Run(impl.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					got, err := tc.call(ctx, impl.open(t))
					if err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					answers = append(answers, normal(got))
				})
			}
			if len(answers) == 2 && !reflect.DeepEqual(answers[0], answers[1]) {
				t.Errorf("%s:\noffline %+v\nlive    %+v", tc.name, answers[0], answers[1])
			}
			if want, ok := wants[tc.name]; ok && len(answers) > 0 && !reflect.DeepEqual(answers[0], normal(want)) {
				t.Errorf("%s: both answered %+v\nwant %+v", tc.name, answers[0], want)
			}
		})
	}
}

// normal makes answers comparable: an empty list or map is nil, however it
// came (from JSON or from the store).
func normal(v any) any {
	switch a := v.(type) {
	case control.ReprocessAnswer:
		a.Files, a.Reprocessed = nilIfEmpty(a.Files), nilIfEmpty(a.Reprocessed)
		if len(a.Skipped) == 0 {
			a.Skipped = nil
		} else {
			a.Skipped = maps.Clone(a.Skipped)
		}
		return a
	case control.RetryAnswer:
		a.Retried = nilIfEmpty(a.Retried)
		return a
	case control.RebuildAnswer:
		if len(a.Rebuilt) == 0 {
			a.Rebuilt = nil
		}
		return a
	}
	return v
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Without the daemon a webhook test cannot be made: the offline control
// says so with control.ErrNotRunning, and the CLI tells to start ppsync.
func TestOfflineWebhookTestNeedsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{File: filepath.Join(dir, "ppsync.toml"), State: config.State{Path: filepath.Join(dir, "state.db")}}
	_, err := offline.New(cfg, nil, nil).WebhookTest(context.Background())
	if !errors.Is(err, control.ErrNotRunning) {
		t.Fatalf("offline webhook test: %v, want ErrNotRunning", err)
	}
}

// Without a state file there is nothing to count, retry or process again:
// the status counts zero, a retry marks nothing, a plan says the state does
// not exist yet (control.ErrNoState), and no state file is created.
func TestOfflineWithoutAState(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{File: filepath.Join(dir, "ppsync.toml"), State: config.State{Path: filepath.Join(dir, "state.db")},
		Inboxes: []config.Inbox{{Path: filepath.Join(dir, "in"), ParserID: "p"}}}
	o := offline.New(cfg, nil, nil)
	ctx := context.Background()
	r, err := o.Status(ctx)
	if err != nil || len(r.Inboxes) != 1 || r.Inboxes[0].Files["done"] != 0 {
		t.Errorf("status = %+v, %v", r, err)
	}
	if a, err := o.Retry(ctx, control.RetryRequest{Failed: true}); err != nil || len(a.Retried) != 0 {
		t.Errorf("retry = %+v, %v", a, err)
	}
	if _, err := o.PlanReprocess(ctx, []string{filepath.Join(dir, "in", "a.pdf")}); !errors.Is(err, control.ErrNoState) {
		t.Errorf("plan = %v, want ErrNoState", err)
	}
	if _, err := os.Stat(cfg.State.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state was created: %v", err)
	}
}
