package notify_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/notify"
	"github.com/ppsync/ppsync/internal/patience"
)

// fakeSource is the daemon's health and failures, set by the test.
type fakeSource struct {
	mu       sync.Mutex
	h        notify.Health
	failures []notify.Failure
	reads    int // Health calls: one a check
}

func (f *fakeSource) Health() notify.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	h := f.h
	h.Inboxes = append([]notify.InboxHealth(nil), f.h.Inboxes...)
	return h
}

// checked waits until the notifier has read the health n more times: with
// n = 3, a check that began after the call has also ended (checks run one
// after another), so it saw the present health at the fake clock's present
// time, however slow the machine.
func (f *fakeSource) checked(t *testing.T, n int) {
	t.Helper()
	f.mu.Lock()
	want := f.reads + n
	f.mu.Unlock()
	if !patience.Wait(10*time.Second, time.Millisecond, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.reads >= want
	}) {
		t.Fatal("the notifier did not check the health within 10 s")
	}
}

func (f *fakeSource) set(fn func(h *notify.Health)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.h)
}

func (f *fakeSource) FailedBetween(from, to time.Time, limit int) ([]notify.Failure, int, error) {
	var out []notify.Failure
	n := 0
	for _, x := range f.failures {
		if !x.At.Before(from) && x.At.Before(to) {
			n++
			if len(out) < limit {
				out = append(out, x)
			}
		}
	}
	return out, n, nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// notifyConfig parses [[notify]] tables the way ppsync.toml is read.
func notifyConfig(t *testing.T, tables string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "ppsync.toml"), []byte(`
[api]
api_key = "k"
[[inbox]]
path = "in"
parser_id = "prs_invoice"
`+tables))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func targets(t *testing.T, cfg *config.Config, env map[string]string) []notify.Configured {
	t.Helper()
	ts, err := notify.FromConfig(cfg, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// run starts a notifier and stops it at the end of the test.
func run(t *testing.T, o notify.Options) *notify.Notifier {
	t.Helper()
	if o.Check == 0 {
		o.Check = 10 * time.Millisecond
	}
	if o.Backoff == 0 {
		o.Backoff = 10 * time.Millisecond
	}
	n := notify.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func waitMsg(t *testing.T, ch <-chan smtpMsg, what string) smtpMsg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(patience.Scale(15 * time.Second)):
		t.Fatalf("no e-mail arrived: %s", what)
		return smtpMsg{}
	}
}

func decoded(t *testing.T, data string) string {
	t.Helper()
	data = strings.ReplaceAll(data, "\r\n", "\n")
	head, body, _ := strings.Cut(data, "\n\n")
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatalf("body is not quoted-printable: %v\n%s", err, data)
	}
	return strings.ReplaceAll(head, "\n ", " ") + "\n\n" + string(b)
}

func TestEmailCarriesGroupedFailuresAndTheDigest(t *testing.T) {
	srv := newSMTPServer(t, nil)
	cfg := notifyConfig(t, `
[[notify]]
name = "ops-mail"
url_env = "OPS_MAIL"
group_window = "1m"
digest_at = "08:00"
`)
	ts := targets(t, cfg, map[string]string{"OPS_MAIL": "smtp://alerts:s3cret-pass@127.0.0.1:" + srv.port() +
		"/?from=ppsync@example.com&to=ops@example.com,boss@example.com&tls=none"})
	clk := &clock{t: time.Date(2026, 3, 10, 7, 0, 0, 0, time.Local)}
	yesterday := time.Date(2026, 3, 9, 14, 0, 0, 0, time.Local)
	credits, burn, days := 420, 60.0, 7.0
	src := &fakeSource{h: notify.Health{Inboxes: []notify.InboxHealth{{Path: "/srv/in", Healthy: true}},
		Credits: &credits, BurnPerDay: &burn, RunsOutInDays: &days},
		failures: []notify.Failure{
			{Path: "/srv/in/a.pdf", Code: "INVALID_PDF", Reason: "not a PDF", At: yesterday},
			{Path: "/srv/in/b.pdf", Code: "PASSWORD_PROTECTED", Reason: "the PDF is encrypted", At: yesterday.Add(time.Hour)},
			{Path: "/srv/in/old.pdf", Code: "INVALID_PDF", Reason: "older", At: yesterday.AddDate(0, 0, -1)},
		}}
	n := run(t, notify.Options{Targets: ts, Source: src, Now: clk.now, Host: "scan01",
		Started: time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local)})

	// A burst of three failures is one message, once the group window has passed.
	for _, f := range []string{"x.pdf", "y.pdf", "z.pdf"} {
		n.Failed(notify.Failure{Path: "/srv/in/" + f, Code: "INVALID_PDF", Reason: "the file ends before %%EOF", At: clk.now()})
	}
	for range 3 {
		n.Finished(yesterday, 4)
	}
	select {
	case m := <-srv.got:
		t.Fatalf("a message before the group window ended: %q", m.Data)
	case <-time.After(200 * time.Millisecond):
	}
	clk.add(time.Minute)
	m := decoded(t, waitMsg(t, srv.got, "the failure message").Data)
	for _, want := range []string{"Subject: [ppsync@scan01] 3 files failed", "/srv/in/x.pdf", "/srv/in/y.pdf", "/srv/in/z.pdf",
		"the file ends before %%EOF", "Export the file again as a valid PDF", "ppsync retry --failed"} {
		if !strings.Contains(m, want) {
			t.Errorf("failure e-mail lacks %q:\n%s", want, m)
		}
	}
	got := srv.msgs[0]
	if got.Auth != "alerts\x00s3cret-pass" || !strings.HasPrefix(got.From, "FROM:<ppsync@example.com>") ||
		strings.Join(got.To, ",") != "TO:<ops@example.com>,TO:<boss@example.com>" {
		t.Errorf("envelope: auth %q from %q to %q", got.Auth, got.From, got.To)
	}

	// The digest at 08:00: yesterday's counts, failures and why, credits and forecast, inboxes.
	clk.add(time.Hour)
	d := decoded(t, waitMsg(t, srv.got, "the digest").Data)
	for _, want := range []string{"daily digest for 2026-03-09: 3 documents, 2 failed", "documents processed: 3", "pages: 12",
		"credits spent: 12", "failures: 2", "/srv/in/a.pdf: not a PDF (INVALID_PDF)", "/srv/in/b.pdf: the PDF is encrypted",
		"left: 420", "run out in about 7.0 days at 60 credits a day", "/srv/in: healthy"} {
		if !strings.Contains(d, want) {
			t.Errorf("digest lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "old.pdf") {
		t.Errorf("digest lists a failure from the day before yesterday:\n%s", d)
	}
}

func TestSTARTTLSIsRequiredByDefault(t *testing.T) {
	plain := newSMTPServer(t, nil)
	cert, pemFile := selfSigned(t)
	secure := newSMTPServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	for _, tc := range []struct {
		name, url string
		ok, tls   bool
	}{
		{"server without STARTTLS refused", "smtp://u:longpassword@127.0.0.1:" + plain.port() + "/?from=a@example.com&to=b@example.com", false, false},
		{"STARTTLS with the server's CA", "smtp://u:longpassword@localhost:" + secure.port() + "/?from=a@example.com&to=b@example.com&ca_file=" + pemFile, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := notify.ParseTarget(tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = tg.Sender.Send(ctx, notify.Message{Title: "t", Body: "b", At: time.Now()})
			if (err == nil) != tc.ok {
				t.Fatalf("Send: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(tg.Mask(err.Error()), "longpassword") {
				t.Errorf("error shows the password: %v", err)
			}
			if tc.ok {
				if m := <-secure.got; m.TLS != tc.tls || m.Auth != "u\x00longpassword" {
					t.Errorf("delivered with TLS=%v auth=%q", m.TLS, m.Auth)
				}
			}
		})
	}
}

// receiver is a local HTTP endpoint that keeps every request.
type receiver struct {
	srv  *httptest.Server
	got  chan request
	fail int // answer 500 to this many requests first
	mu   sync.Mutex
}

type request struct {
	Path, Auth, ContentType string
	Body                    map[string]any
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{got: make(chan request, 100), fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.mu.Lock()
		failing := r.fail > 0
		r.fail--
		r.mu.Unlock()
		if failing {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(q.Body).Decode(&body)
		r.got <- request{Path: q.URL.Path, Auth: q.Header.Get("Authorization"), ContentType: q.Header.Get("Content-Type"), Body: body}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, what string) request {
	t.Helper()
	select {
	case q := <-r.got:
		return q
	case <-time.After(patience.Scale(15 * time.Second)):
		t.Fatalf("nothing arrived: %s", what)
		return request{}
	}
}

func TestHTTPTargetsSendEachServicesFormat(t *testing.T) {
	m := notify.Message{Event: config.EventInbox, Status: notify.StatusProblem, Title: "inbox /srv/in is unreachable",
		Body: "ppsync cannot read the inbox", Host: "scan01", At: time.Date(2026, 3, 10, 7, 0, 0, 0, time.UTC), Files: []string{"/a.pdf"}}
	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, q request)
	}{
		{"slack", "slack+http://HOST/services/T000/B000/XXXXXXXXXXXXXXXX", func(t *testing.T, q request) {
			if q.Path != "/services/T000/B000/XXXXXXXXXXXXXXXX" || q.Body["text"] != "*[ppsync@scan01] inbox /srv/in is unreachable*\nppsync cannot read the inbox" {
				t.Errorf("slack: %+v", q)
			}
		}},
		{"teams", "teams+http://HOST/workflows/abc/triggers/manual/paths/invoke?sig=SIGNATURE123", func(t *testing.T, q request) {
			att := q.Body["attachments"].([]any)[0].(map[string]any)
			card := att["content"].(map[string]any)
			body := card["body"].([]any)
			if q.Body["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" || card["type"] != "AdaptiveCard" ||
				body[0].(map[string]any)["text"] != "[ppsync@scan01] inbox /srv/in is unreachable" || body[1].(map[string]any)["text"] != "ppsync cannot read the inbox" {
				t.Errorf("teams: %+v", q.Body)
			}
		}},
		{"ntfy", "ntfy+http://HOST/ppsync-alerts?token=tk_secrettoken", func(t *testing.T, q request) {
			if q.Path != "/" || q.Body["topic"] != "ppsync-alerts" || q.Body["title"] != "[ppsync@scan01] inbox /srv/in is unreachable" ||
				q.Body["message"] != "ppsync cannot read the inbox" || q.Body["priority"] != 4.0 || q.Auth != "Bearer tk_secrettoken" {
				t.Errorf("ntfy: %+v auth %q", q.Body, q.Auth)
			}
		}},
		{"webhook", "webhook+http://hook:pw-secret@HOST/ppsync", func(t *testing.T, q request) {
			if q.Path != "/ppsync" || q.Body["event"] != "inbox" || q.Body["status"] != "problem" || q.Body["title"] != m.Title ||
				q.Body["text"] != m.Body || q.Body["host"] != "scan01" || q.Body["time"] != "2026-03-10T07:00:00Z" ||
				q.Auth != "Basic aG9vazpwdy1zZWNyZXQ=" || q.ContentType != "application/json" {
				t.Errorf("webhook: %+v auth %q", q.Body, q.Auth)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, 0)
			tg, err := notify.ParseTarget(strings.Replace(tc.url, "HOST", r.srv.Listener.Addr().String(), 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Sender.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			tc.check(t, r.wait(t, tc.name))
		})
	}
}

func TestFlappingInboxIsOneMessageAndOneResolved(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flaps int // minutes down, then up, alternating
		want  []string
	}{
		{"50 minutes of flapping", 25, []string{"problem: inbox /mnt/share is unreachable", "resolved: inbox /mnt/share is reachable again"}},
		{"90 minutes of flapping: one reminder after an hour", 45, []string{"problem: inbox /mnt/share is unreachable",
			"problem: still: inbox /mnt/share is unreachable", "resolved: inbox /mnt/share is reachable again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, 0)
			cfg := notifyConfig(t, `
[[notify]]
url = "webhook+http://`+r.srv.Listener.Addr().String()+`/hook"
inbox_down_after = "5m"
resolve_after = "3m"
repeat = "1h"
`)
			clk := &clock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.Local)}
			src := &fakeSource{h: notify.Health{Inboxes: []notify.InboxHealth{{Path: "/mnt/share", Healthy: true}}}}
			run(t, notify.Options{Targets: targets(t, cfg, nil), Source: src, Now: clk.now, Check: 5 * time.Millisecond})
			settle := func() { src.checked(t, 3) } // a whole check at this clock time, begun and ended
			setDown := func(down bool) {
				src.set(func(h *notify.Health) {
					h.Inboxes[0].Healthy, h.Inboxes[0].Error = !down, "stat /mnt/share: host is down"
				})
				settle()
			}
			// Down for less than inbox_down_after: nothing yet.
			setDown(true)
			clk.add(4 * time.Minute)
			settle()
			for range tc.flaps {
				setDown(false)
				clk.add(time.Minute)
				setDown(true)
				clk.add(time.Minute)
			}
			// Then up for good.
			setDown(false)
			clk.add(2 * time.Minute)
			settle()
			clk.add(2 * time.Minute)
			settle()
			var got []string
			for {
				select {
				case q := <-r.got:
					got = append(got, fmt.Sprint(q.Body["status"], ": ", q.Body["title"]))
					continue
				case <-time.After(500 * time.Millisecond):
				}
				break
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestAPIAndCreditsAlertsFollowTheirThresholds(t *testing.T) {
	r := newReceiver(t, 0)
	cfg := notifyConfig(t, `
[[notify]]
url = "webhook+http://`+r.srv.Listener.Addr().String()+`/hook"
events = ["api", "credits"]
api_down_after = "10m"
resolve_after = "1m"
credits_below = 100
runs_out_days_below = 3
`)
	clk := &clock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.Local)}
	credits, days, burn := 5000, 10.0, 500.0
	src := &fakeSource{h: notify.Health{Credits: &credits, RunsOutInDays: &days, BurnPerDay: &burn,
		Inboxes: []notify.InboxHealth{{Path: "/in", Healthy: false, Error: "gone"}}}} // inbox events are off
	run(t, notify.Options{Targets: targets(t, cfg, nil), Source: src, Now: clk.now, Check: 5 * time.Millisecond})
	step := func(d time.Duration, fn func(h *notify.Health)) {
		if fn != nil {
			src.set(fn)
		}
		time.Sleep(30 * time.Millisecond)
		clk.add(d)
		time.Sleep(30 * time.Millisecond)
	}
	expect := func(want string) {
		t.Helper()
		q := r.wait(t, want)
		if got := fmt.Sprint(q.Body["status"], ": ", q.Body["title"]); got != want {
			t.Fatalf("got %q, want %q (%s)", got, want, q.Body["text"])
		}
	}
	step(9*time.Minute, func(h *notify.Health) { h.APIDown, h.APIError = true, "dial tcp: connection refused" })
	step(time.Minute, nil)
	expect("problem: the PerfectParser API is unreachable")
	step(2*time.Minute, func(h *notify.Health) { h.APIDown = false })
	expect("resolved: the PerfectParser API answers again")
	d := 2.5
	step(time.Minute, func(h *notify.Health) { h.RunsOutInDays = &d })
	q := r.wait(t, "credits forecast")
	if q.Body["title"] != "PerfectParser credits are running low" || !strings.Contains(q.Body["text"].(string), "run out in about 2.5 days at 500 credits a day") {
		t.Fatalf("credits message: %+v", q.Body)
	}
	step(2*time.Minute, func(h *notify.Health) { d2 := 30.0; h.RunsOutInDays = &d2 })
	expect("resolved: PerfectParser credits are above the thresholds again")
	select {
	case q := <-r.got:
		t.Errorf("unexpected message: %+v", q.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestUnsentMessagesAreRetriedCountedAndMasked(t *testing.T) {
	r := newReceiver(t, 2)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer dead.Close()
	cfg := notifyConfig(t, `
[[notify]]
name = "flaky"
url_env = "FLAKY"
[[notify]]
name = "dead"
url_file = "dead.url"
`)
	if err := os.WriteFile(cfg.Notify[1].URLFile, []byte("slack+http://"+dead.Listener.Addr().String()+"/services/T0/B0/SECRETSECRETSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	ts := targets(t, cfg, map[string]string{"FLAKY": "webhook+http://" + r.srv.Listener.Addr().String() + "/h"})
	n := run(t, notify.Options{Targets: ts, Source: &fakeSource{}, Attempts: 3,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	n.Restarted("the last run did not end cleanly")
	q := r.wait(t, "the restart message after two refusals")
	if q.Body["event"] != "restart" {
		t.Errorf("got %+v", q.Body)
	}
	deadline := time.Now().Add(patience.Scale(15 * time.Second))
	for testutil.ToFloat64(counter(t, n, "ppsync_notify_failed_total", "dead")) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []struct {
		name, target string
		want         float64
	}{
		{"ppsync_notify_retries_total", "flaky", 2}, {"ppsync_notify_failed_total", "flaky", 0},
		{"ppsync_notify_retries_total", "dead", 2}, {"ppsync_notify_failed_total", "dead", 1},
	} {
		if got := testutil.ToFloat64(counter(t, n, c.name, c.target)); got != c.want {
			t.Errorf("%s{target=%q} = %v, want %v", c.name, c.target, got, c.want)
		}
	}
	if strings.Contains(logs.String(), "SECRETSECRET") {
		t.Errorf("the webhook's secret path is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "giving up") || !strings.Contains(logs.String(), "403 Forbidden") {
		t.Errorf("the log does not say the message was given up and why:\n%s", logs.String())
	}
}

// counter returns the notifier's metric name{target} as a collector.
func counter(t *testing.T, n *notify.Notifier, name, target string) prometheus.Collector {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(n)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == target {
				v := m.GetCounter().GetValue()
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return v })
			}
		}
	}
	t.Fatalf("no %s{target=%q}", name, target)
	return nil
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
