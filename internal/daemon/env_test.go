package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/testlog"
)

const key = "pp_test_e2e_key_0123456789"

type env struct {
	t     *testing.T
	emu   *emulator.Emulator
	srv   *httptest.Server
	root  string
	inbox string
	logs  *testlog.Buffer
	// leaseTTL is the daemons' lease period (short: tests watch takeovers).
	leaseTTL time.Duration
}

func newEnv(t *testing.T, o emulator.Options) *env {
	t.Helper()
	o.APIKeys = []string{key}
	if o.ProcessingTime == 0 {
		o.ProcessingTime = 5 * time.Millisecond
	}
	o.RateWindow = time.Second
	o.TempDir = t.TempDir()
	emu := emulator.New(o)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, emu: emu, srv: srv, root: root, inbox: inbox, logs: &testlog.Buffer{}, leaseTTL: 3 * time.Second}
}

// config builds a fast config; extra is appended inside the first [[inbox]]
// (or after it when it starts with a table header).
func (e *env) config(extra string) *config.Config {
	return e.configWith("", extra)
}

// fastTables is the part of the fast config before the inboxes: the
// emulator, short windows and intervals, debug logs and the admin endpoint
// on listen ("off" for none).
func (e *env) fastTables(listen string) string {
	return fmt.Sprintf(`
[api]
base_url = %q
api_key = %q
rate_window = "1s"
[state]
path = "state/ppsync.db"
[upload]
batch_window = "100ms"
credit_recheck = "200ms"
[poll]
interval = "100ms"
[log]
level = "debug"
[admin]
listen = %q
`, e.srv.URL, key, listen)
}

// parse parses text as the test's ppsync.toml.
func (e *env) parse(text string) *config.Config {
	e.t.Helper()
	cfg, err := config.Parse(filepath.Join(e.root, "ppsync.toml"), []byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// configWith adds tables (before the inbox) to the fast config.
func (e *env) configWith(tables, extra string) *config.Config {
	e.t.Helper()
	return e.parse(e.fastTables("off") + fmt.Sprintf(`%s
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "150ms"
incomplete_after = "2s"
rescan_interval = "300ms"
%s
`, tables, extra))
}

func (e *env) options(cfg *config.Config, once bool) daemon.Options {
	return daemon.Options{Config: cfg, APIKey: key, Once: once, LeaseTTL: e.leaseTTL,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// start runs the daemon in the background; the returned stop waits for it.
func (e *env) start(cfg *config.Config) (stop func() daemon.Summary) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan daemon.Summary, 1)
	ready := make(chan struct{})
	o := e.options(cfg, false)
	o.Ready = ready
	go pprof.Do(ctx, pprof.Labels(testLabel, e.t.Name()), func(ctx context.Context) {
		s, err := daemon.Run(ctx, o)
		if err != nil {
			e.t.Errorf("daemon: %v", err)
		}
		done <- s
	})
	// A test that fails before calling stop must not leave its daemon
	// running into the next tests.
	var stopped sync.Once
	var summary daemon.Summary
	stop = func() daemon.Summary {
		stopped.Do(func() {
			cancel()
			select {
			case summary = <-done:
			case <-time.After(patience.Scale(60 * time.Second)):
				e.t.Error("daemon did not stop within 60 s of its context's end")
			}
		})
		return summary
	}
	e.t.Cleanup(func() { stop() })
	select {
	case <-ready:
	case s := <-done:
		done <- s
		e.t.Fatal("daemon stopped before it was ready")
	case <-time.After(patience.Scale(60 * time.Second)):
		e.t.Fatal("daemon did not start within 60 s")
	}
	return stop
}

// testLabel is the profiler label e.start runs each daemon under, set to the
// test's name, so a test can tell its own goroutines from others'.
const testLabel = "ppsync-test"

// stallLimit is how long a --once run may go without progress before the
// test gives up on it.
const stallLimit = 60 * time.Second

// once runs the daemon with --once. There is no fixed deadline, which a
// busy machine would miss: the run is cancelled only when it has made no
// progress (see progressContext) for stallLimit.
func (e *env) once(cfg *config.Config) (daemon.Summary, error) {
	ctx, stop := e.progressContext(context.Background(), stallLimit)
	defer stop()
	return daemon.Run(ctx, e.options(cfg, true))
}

// progressContext returns a context cancelled once the pipeline has made no
// progress for stall: no new extraction or document at the emulator and no
// new result or error file under the test's folder. While files move, it
// waits however slow the machine is; the go test timeout bounds the rest.
func (e *env) progressContext(parent context.Context, stall time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	progress := func() int {
		st := e.emu.Stats()
		n := st.ExtractionsCreated + st.DocumentsCreated
		_ = filepath.WalkDir(e.root, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
				n++
			}
			return nil
		})
		return n
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		last, lastAt := progress(), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n := progress(); n != last {
				last, lastAt = n, time.Now()
			} else if time.Since(lastAt) > stall {
				e.t.Logf("no progress for %v (%d submissions, documents and results so far): cancelling the run", stall, n)
				cancel()
				return
			}
		}
	}()
	return ctx, func() {
		cancel()
		<-done
	}
}

func pdf(t *testing.T, n, pages int, extra ...string) []byte {
	t.Helper()
	inv := samples.Generate(7, n, pages)
	inv.Extra = extra
	b, err := inv.PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readResult(t *testing.T, file string) results.Result {
	t.Helper()
	b, err := os.ReadFile(results.ResultPath(file))
	if err != nil {
		t.Fatal(err)
	}
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", results.ResultPath(file), err)
	}
	return r
}

func readError(t *testing.T, file string) results.ErrorFile {
	t.Helper()
	b, err := os.ReadFile(results.ErrorPath(file))
	if err != nil {
		t.Fatal(err)
	}
	var r results.ErrorFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", results.ErrorPath(file), err)
	}
	return r
}

// waitFor polls until cond holds or the deadline passes.
func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	if !patience.Wait(d, 20*time.Millisecond, cond) {
		e.t.Fatalf("timed out waiting for %s (%v, %s)\nlogs:\n%s", what, d, patience.Describe(), tail(e.logs.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func invoiceNumber(t *testing.T, r results.Result) string {
	t.Helper()
	var d struct {
		Data struct {
			InvoiceNumber string `json:"invoice_number"`
		} `json:"extracted_data"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r.Document, &d); err != nil {
		t.Fatal(err)
	}
	return d.Data.InvoiceNumber
}

func noTempFiles(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ppsync-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

// allResults reports whether every file of files has its result.
func allResults(files []string) bool {
	for _, p := range files {
		if !exists(results.ResultPath(p)) {
			return false
		}
	}
	return true
}

// wantResults fails the test for each file of files without a result
// (when, " after restart" for instance, says when it was looked for).
func wantResults(t *testing.T, files []string, when string) {
	t.Helper()
	for _, p := range files {
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s: no result%s", p, when)
		}
	}
}
