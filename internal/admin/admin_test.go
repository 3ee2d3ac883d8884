package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
)

// fake is a daemon that records the retries it was asked for.
type fake struct {
	mu      sync.Mutex
	retried [][]string
}

func (f *fake) Status(context.Context) (report.Report, error) {
	return report.Report{Daemon: report.Daemon{Running: true}, State: report.StateInfo{Path: "x"},
		Inboxes: []report.Inbox{{Path: "/in", Settling: 3, Incomplete: 1, Files: map[string]int{}}},
		Webhook: &report.Webhook{Verified: 2, Rejected: 3000, Dropped: 1}}, nil
}
func (f *fake) Retry(_ context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, req.Paths)
	return control.RetryAnswer{Retried: req.Paths}, nil
}
func (f *fake) APICounter() *api.Counter { return &api.Counter{} }
func (f *fake) WebhookTest(context.Context) (control.WebhookTestAnswer, error) {
	return control.WebhookTestAnswer{OK: true, Message: "delivered"}, nil
}
func (f *fake) PlanReprocess(context.Context, []string) (control.ReprocessAnswer, error) {
	return control.ReprocessAnswer{}, errors.New("this fake does not process files again")
}
func (f *fake) Reprocess(context.Context, []string) (control.ReprocessAnswer, error) {
	return control.ReprocessAnswer{}, errors.New("this fake does not process files again")
}
func (f *fake) RebuildLedgers(context.Context) (control.RebuildAnswer, error) {
	return control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{{Inbox: "/in", Ledger: "/in/ledger.csv", Documents: 2}},
		Errors: []string{"ledger /b.csv of inbox /b: unreadable"}}, errors.New("ledger /b.csv of inbox /b: unreadable")
}

func (f *fake) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.retried)
}

// testConfig writes a config whose admin endpoint listens on a free port.
func testConfig(t *testing.T, dir, listen string) *config.Config {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "[api]\napi_key = \"k\"\n[[inbox]]\npath = \"in\"\nparser_id = \"p\"\n"
	if listen != "" {
		text += "[admin]\nlisten = \"" + listen + "\"\n"
	}
	file := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts cfg's endpoint and returns the token it wrote.
func serve(t *testing.T, cfg *config.Config, src admin.Source) string {
	t.Helper()
	stop, err := admin.Serve(context.Background(), src, admin.OptionsFor(cfg), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	b, err := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func send(t *testing.T, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBrowserRequestsAreRefused(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := testConfig(t, t.TempDir(), addr)
	cfg.Admin.Hosts = []string{"ppsync.internal"}
	src := &fake{}
	auth := "Bearer " + serve(t, cfg, src)
	base := "http://" + addr
	retry := `{"paths":["/x/a.pdf"],"failed":false}`
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		want   int
	}{
		{"cross-site form post", "POST", "/retry", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, retry, http.StatusForbidden},
		{"form post without origin", "POST", "/retry", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, retry, http.StatusForbidden},
		{"no content type", "POST", "/webhook/test", nil, "", http.StatusForbidden},
		{"json with a foreign origin", "POST", "/retry", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, retry, http.StatusForbidden},
		{"rebinding host on a post", "POST", "/retry", map[string]string{"Content-Type": "application/json", "Host": "evil.example:" + port}, retry, http.StatusForbidden},
		{"rebinding host on a read", "GET", "/status", map[string]string{"Host": "evil.example:" + port}, "", http.StatusForbidden},
		{"a name at another port", "GET", "/status", map[string]string{"Host": "localhost:1"}, "", http.StatusForbidden},
		{"another state", "POST", "/retry", map[string]string{"Content-Type": "application/json", admin.StateHeader: "/other/state.db"}, retry, http.StatusConflict},
		{"same-origin json", "POST", "/retry", map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": base}, retry, http.StatusOK},
		{"localhost name", "GET", "/status", map[string]string{"Host": "localhost:" + port}, "", http.StatusOK},
		{"ipv6 loopback", "GET", "/healthz", map[string]string{"Host": "[::1]:" + port}, "", http.StatusOK},
		{"configured name", "GET", "/metrics", map[string]string{"Host": "ppsync.internal:8080"}, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := src.calls()
			h := map[string]string{"Authorization": auth}
			for k, v := range tc.header {
				h[k] = v
			}
			code, body := send(t, tc.method, base+tc.path, h, tc.body)
			if code != tc.want {
				t.Fatalf("HTTP %d (%s), want %d", code, strings.TrimSpace(body), tc.want)
			}
			if tc.path == "/retry" && code != http.StatusOK && src.calls() != before {
				t.Fatal("a refused request still retried files")
			}
		})
	}
}

func TestClientTalksOnlyToItsOwnDaemon(t *testing.T) {
	addr := freeAddr(t)
	a := testConfig(t, t.TempDir(), addr)
	b := testConfig(t, t.TempDir(), addr) // the same address by mistake
	src := &fake{}
	serve(t, a, src)

	ca := admin.NewClient(a)
	if ans, err := ca.Retry(context.Background(), control.RetryRequest{Paths: []string{"/a.pdf"}}); err != nil || len(ans.Retried) != 1 {
		t.Fatalf("own daemon: %+v %v", ans, err)
	}
	rep, err := ca.Status(context.Background())
	if err != nil || rep.Daemon.Config != a.File || rep.Daemon.InstanceID == "" {
		t.Fatalf("status lacks the identity: %+v %v", rep.Daemon, err)
	}
	if ans, err := ca.WebhookTest(context.Background()); err != nil || ans.Message != "delivered" {
		t.Fatalf("webhook test: %+v %v", ans, err)
	}

	// The other config's client has no token of this daemon: refused,
	// saying why.
	cb := admin.NewClient(b)
	_, err = cb.Retry(context.Background(), control.RetryRequest{Failed: true})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "does not serve this config's state") {
		t.Fatalf("the other config's client was not refused clearly: %v", err)
	}
	// With a token that opens this daemon, it is still told apart.
	if err := os.WriteFile(config.AdminTokenFile(b.State.Path), []byte(auth(t, a)), 0o600); err != nil {
		t.Fatal(err)
	}
	var wrong *admin.WrongDaemonError
	if _, err := admin.NewClient(b).Status(context.Background()); !errors.As(err, &wrong) || !strings.Contains(err.Error(), a.File) || !strings.Contains(err.Error(), b.File) {
		t.Fatalf("status of the other config: %v", err)
	}
	if src.calls() != 1 {
		t.Fatalf("the daemon retried %d times, want only its own client's once", src.calls())
	}

	none := admin.NewClient(testConfig(t, t.TempDir(), freeAddr(t)))
	if _, err := none.Status(context.Background()); !errors.Is(err, admin.ErrNoDaemon) {
		t.Fatalf("nobody listening: %v", err)
	}
	if admin.NewClient(testConfig(t, t.TempDir(), "off")) != nil {
		t.Fatal("a client for an endpoint that is off")
	}
}

// auth is the token cfg's daemon wrote.
func auth(t *testing.T, cfg *config.Config) string {
	t.Helper()
	b, err := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServerHasTimeouts(t *testing.T) {
	srv := admin.NewServer(&fake{}, admin.Options{Listen: "127.0.0.1:1"})
	if srv.ReadTimeout <= 0 || srv.ReadHeaderTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts not all set: read %v, header %v, write %v, idle %v", srv.ReadTimeout, srv.ReadHeaderTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

func TestMetricsShowBuildAndSettlingFiles(t *testing.T) {
	addr := freeAddr(t)
	tok := serve(t, testConfig(t, t.TempDir(), addr), &fake{})
	code, body := send(t, "GET", "http://"+addr+"/metrics", map[string]string{"Authorization": "Bearer " + tok}, "")
	if code != http.StatusOK {
		t.Fatalf("metrics: HTTP %d", code)
	}
	for _, want := range []string{`ppsync_build_info{goversion="go`, `ppsync_files_settling{inbox="/in"} 3`, `ppsync_files_incomplete{inbox="/in"} 1`,
		`ppsync_webhook_deliveries_total{result="rejected"} 3000`, `ppsync_webhook_deliveries_total{result="verified"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
