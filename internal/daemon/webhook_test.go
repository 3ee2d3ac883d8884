package daemon_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// webhookConfig turns on webhooks with a receiver on a free loopback port.
func (e *env) webhookConfig(pollInterval string) *config.Config {
	return e.webhookConfigExtra(pollInterval, "")
}

// webhookConfigExtra is webhookConfig with extra lines in the inbox.
func (e *env) webhookConfigExtra(pollInterval, extra string) *config.Config {
	e.t.Helper()
	addr := freePort(e.t)
	return e.configWith(fmt.Sprintf(`[webhook]
enabled = true
listen = %q
public_url = "http://%s/hooks/pp"
events = ["extraction.document_completed", "extraction.job_completed"]
secret = "static-secret-123"
poll_interval = %q
`, addr, addr, pollInterval), extra)
}

func TestWebhookDeliversAndPollingCatchesDrops(t *testing.T) {
	e := newEnv(t, emulator.Options{WebhookDropRate: 0.3, Seed: 5, ProcessingTime: 20 * time.Millisecond})
	cfg := e.webhookConfig("1s")
	stop := e.start(cfg)
	e.waitFor("the test delivery", 15*time.Second, func() bool { return strings.Contains(e.logs.String(), "webhook test delivery") })
	var files []string
	for i := range 20 {
		p := filepath.Join(e.inbox, fmt.Sprintf("w%02d.pdf", i))
		write(t, p, pdf(t, i, 1))
		files = append(files, p)
	}
	e.waitFor("every result despite dropped deliveries", 40*time.Second, func() bool { return allResults(files) })
	stop()
	st := e.emu.Stats()
	if st.DocumentsCreated != 20 {
		t.Errorf("documents_created = %d", st.DocumentsCreated)
	}
	if inj := e.emu.Injected(); inj.WebhooksDropped == 0 {
		t.Error("no delivery was dropped")
	}
	if !strings.Contains(e.logs.String(), "webhook test delivery arrived and verified") {
		t.Errorf("test delivery not verified:\n%s", tail(e.logs.String(), 3000))
	}
	if strings.Contains(e.logs.String(), "static-secret-123") || strings.Contains(e.logs.String(), "wh_sec_") {
		t.Error("a webhook secret appears in the log")
	}
}

func TestWebhookRestartKeepsRegistrationAndOffRemovesIt(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.webhookConfig("1m")
	c, err := api.New(api.Options{BaseURL: e.srv.URL, APIKey: key, RateWindow: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		list, err := c.ListWebhooks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for run := range 2 {
		stop := e.start(cfg)
		e.waitFor("the test delivery", 15*time.Second, func() bool {
			return strings.Count(e.logs.String(), "webhook test delivery arrived and verified") == run+1
		})
		p := filepath.Join(e.inbox, fmt.Sprintf("r%d.pdf", run))
		write(t, p, pdf(t, run, 1))
		// With polling at 1 min, a result within seconds came through the webhook.
		e.waitFor("a pushed result", 15*time.Second, func() bool { return exists(results.ResultPath(p)) })
		stop()
		if n := count(); n != 1 {
			t.Fatalf("after run %d: %d webhooks registered, want 1", run+1, n)
		}
	}
	if !strings.Contains(e.logs.String(), "webhook already registered") {
		t.Error("the restart did not reuse the registration")
	}
	// Webhooks turned off: the subscription is deleted at the next start.
	stop := e.start(e.config(""))
	stop()
	if n := count(); n != 0 {
		t.Fatalf("%d webhooks left after turning them off", n)
	}
	if _, err := os.Stat(cfg.State.Path); err != nil {
		t.Fatal(err)
	}
}
