package webui

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const testToken = "0123456789abcdef0123456789abcdef"

// Every path but /healthz needs a credential, on loopback too; /metrics
// is public only when configured so.
func TestOnlyHealthzIsPublic(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("in")) })
	for _, public := range []bool{false, true} {
		srv := httptest.NewServer(Protect(ok, Security{Listen: "127.0.0.1:9847", LocalToken: testToken, PublicMetrics: public}))
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/healthz", 200},
			{"GET", "/metrics", map[bool]int{false: 401, true: 200}[public]},
			{"GET", "/", 401},
			{"GET", "/status", 401},
			{"GET", "/identity", 401},
			{"GET", "/ui/api/files", 401},
			{"GET", "/ui/api/file?path=/in/a.pdf", 401},
			{"GET", "/ui/api/raw?path=/in/a.pdf", 401},
			{"POST", "/retry", 401},
			{"POST", "/reprocess", 401},
			{"POST", "/webhook/test", 401},
			{"POST", "/ui/api/reprocess", 401},
			{"POST", "/ui/api/upload?inbox=0&name=a.pdf", 401},
			{"POST", LoginCodePath, 401},
			{"POST", "/healthz", 405},
		} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{"paths":["/in/a.pdf"]}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("public_metrics=%v: %s %s without credentials: %d, want %d", public, tc.method, tc.path, resp.StatusCode, tc.want)
			}
		}
		srv.Close()
	}
}

// A browser without credentials is told how to sign in.
func TestBrowserIsToldHowToSignIn(t *testing.T) {
	srv := httptest.NewServer(Protect(http.NotFoundHandler(), Security{Listen: "127.0.0.1:9847", LocalToken: testToken}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(b.String(), "ppsync status") {
		t.Fatalf("%d %s %q: want a 401 page naming 'ppsync status'", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
}

// The one-time link: the CLI (with the token) gets a code; the browser
// exchanges it once for a session and lands on a URL without it.
func TestLoginLinkWorksOnce(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page at " + r.URL.String())) })
	srv := httptest.NewServer(Protect(page, Security{Listen: "127.0.0.1:9847", LocalToken: testToken, Now: clock}))
	defer srv.Close()

	code := func() string {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+LoginCodePath, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lc LoginCode
		if err := json.NewDecoder(resp.Body).Decode(&lc); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(lc.Path, LoginPath+"?code=") {
			t.Fatalf("login code: %d %+v %v", resp.StatusCode, lc, err)
		}
		return lc.Path
	}
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	get := func(c *http.Client, path string) (int, string, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Request.URL.RequestURI(), b.String()
	}

	link := code()
	a := browser()
	if st, at, body := get(a, link); st != 200 || at != "/" || body != "page at /" {
		t.Fatalf("first use: %d at %s (%q); want the page at / without the code", st, at, body)
	}
	if st, _, _ := get(a, "/ui/api/overview"); st != 200 {
		t.Fatalf("the session does not open the page's data: %d", st)
	}
	// The same link again, from another browser: refused.
	if st, _, body := get(browser(), link); st != 401 || !strings.Contains(body, "already used") {
		t.Fatalf("second use: %d %q; want 401 saying so", st, body)
	}
	// An expired link.
	late := code()
	mu.Lock()
	now = now.Add(LoginCodeTTL + time.Second)
	mu.Unlock()
	if st, _, _ := get(browser(), late); st != 401 {
		t.Fatalf("expired link: %d, want 401", st)
	}
	if st, _, _ := get(browser(), LoginPath+"?code=guess"); st != 401 {
		t.Fatalf("guessed code: %d, want 401", st)
	}
}

// lines collects log output for the test.
type lines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *lines) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// 200 parallel password guesses: after the client's allowance the throttle
// answers 429 before bcrypt runs; each failure is one line fail2ban's
// documented filter matches.
func TestFailedSignInsAreThrottled(t *testing.T) {
	// The cheapest cost keeps the test quick; the count of 401s (each one
	// bcrypt run) is what shows the cost saved. The clock stands still, so
	// the allowance does not refill however slow the machine.
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var log lines
	now := time.Now()
	srv := httptest.NewServer(Protect(http.NotFoundHandler(), Security{Listen: "0.0.0.0:9847", PasswordHash: string(hash),
		Log: slog.New(slog.NewTextHandler(&log, nil)), Now: func() time.Time { return now }}))
	defer srv.Close()
	c0, haveCPU := cpuTime()
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for range 200 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", srv.URL+"/status", nil)
			req.SetBasicAuth("admin", "guess")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if c1, _ := cpuTime(); haveCPU {
		t.Logf("200 guesses took %v of CPU", c1-c0)
	}
	// Only the allowance reached bcrypt.
	if count[401] != failBurst || count[429] != 200-failBurst {
		t.Fatalf("answers %v: want %d 401s and 429 for the rest", count, failBurst)
	}
	// The fail2ban filter of docs/admin-auth.md.
	failregex := regexp.MustCompile(`msg="admin sign-in failed" client=(\S+)`)
	got := failregex.FindAllStringSubmatch(log.String(), -1)
	if len(got) != count[401] || got[0][1] != "127.0.0.1" {
		t.Fatalf("%d failure lines (want %d) naming %v:\n%s", len(got), count[401], got, log.String())
	}
	if !strings.Contains(log.String(), `msg="admin sign-in throttled" client=127.0.0.1`) {
		t.Fatal("throttled attempts are not logged")
	}
	// Even the right password waits out the throttle (it would be a free
	// oracle otherwise) ...
	req, _ := http.NewRequest("GET", srv.URL+"/status", nil)
	req.SetBasicAuth("admin", "right")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password while throttled: %d, want 429 with Retry-After", resp.StatusCode)
	}
}

// Another client is not throttled by the first one's failures, and the
// map of clients stays bounded.
func TestThrottleIsPerClient(t *testing.T) {
	g := Protect(http.NotFoundHandler(), Security{Listen: "127.0.0.1:1", LocalToken: testToken}).(*guard)
	for range failBurst {
		if !g.allow("198.51.100.7") {
			t.Fatal("throttled within the allowance")
		}
	}
	if g.allow("198.51.100.7") {
		t.Fatal("not throttled after the allowance")
	}
	if !g.allow("198.51.100.8") {
		t.Fatal("another client was throttled")
	}
	if clientKey("[2001:db8:1:2:3:4:5:6]:443") != clientKey("[2001:db8:1:2:ffff::1]:80") {
		t.Fatal("one IPv6 /64 counts as several clients")
	}
	for i := range maxFailures + 10 {
		g.allow("10.0." + string(rune('a'+i%26)) + strings.Repeat("x", i/26))
	}
	if len(g.failures) > maxFailures {
		t.Fatalf("%d clients tracked, want at most %d", len(g.failures), maxFailures)
	}
}
