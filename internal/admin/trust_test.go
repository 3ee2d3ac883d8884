package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
)

// servePage starts cfg's endpoint with a page that shows invoice data.
func servePage(t *testing.T, cfg *config.Config, src admin.Source) {
	t.Helper()
	o := admin.OptionsFor(cfg)
	o.Page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "invoice INV-7: total 1250.75")
	})
	stop, err := admin.Serve(context.Background(), src, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// Without credentials every route but /healthz is refused, on loopback;
// the token file is 0600, replaced at each start and removed at stop.
func TestLoopbackNeedsTheToken(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, t.TempDir(), addr)
	file := config.AdminTokenFile(cfg.State.Path)
	if err := os.WriteFile(file, []byte("stale-token-of-an-earlier-run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &reprocessing{}
	o := admin.OptionsFor(cfg)
	o.Page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "invoice data") })
	stop, err := admin.Serve(context.Background(), src, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
	}
	tok := auth(t, cfg)
	if strings.Contains(tok, "stale") || len(strings.TrimSpace(tok)) < 32 {
		t.Fatalf("the stale token was not replaced: %q", tok)
	}
	base := "http://" + addr
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/status"}, {"GET", "/identity"}, {"GET", "/metrics"}, {"GET", "/"}, {"GET", "/ui/api/file?path=/in/a.pdf"},
		{"POST", "/retry"}, {"POST", "/reprocess"}, {"POST", "/webhook/test"}, {"POST", "/ui/api/login-code"},
	} {
		if code, body := send(t, tc.method, base+tc.path, json, `{"paths":["/in/a.pdf"],"confirm":true}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d %s", tc.method, tc.path, code, body)
		}
		if code, _ := send(t, tc.method, base+tc.path, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer stale-token-of-an-earlier-run"}, `{"paths":["/in/a.pdf"]}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s with the stale token: %d", tc.method, tc.path, code)
		}
	}
	if code, _ := send(t, "GET", base+"/healthz", nil, ""); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if len(src.marked) != 0 || src.calls() != 0 {
		t.Fatal("an unauthenticated request reached the daemon")
	}
	// The CLI's client reads the file and gets in.
	if _, err := admin.NewClient(cfg).Reprocess(context.Background(), []string{"/in/a.pdf"}); err != nil || len(src.marked) != 1 {
		t.Fatalf("client with the token file: %v, marked %v", err, src.marked)
	}
	stop()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("token file left after stop: %v", err)
	}
}

// nobodyEnv makes the test binary act as the helper below.
const nobodyEnv = "PPSYNC_TEST_AS_NOBODY"

// TestHelperAsNobody is not a test: run as uid 65534 by
// TestOtherUsersCannotActOnTheDaemon, it tries what a local user would and
// prints what happened as JSON.
func TestHelperAsNobody(t *testing.T) {
	if os.Getenv(nobodyEnv) == "" {
		t.Skip("helper process only")
	}
	var out struct {
		UID        int
		ReadErr    string
		Status     int
		Page       int
		Reprocess  int
		ClientErr  string
		PageBodies string
	}
	out.UID = os.Getuid()
	tokenFile, base, cfgFile := os.Getenv("TOKEN_FILE"), os.Getenv("BASE"), os.Getenv("CONFIG")
	if _, err := os.ReadFile(tokenFile); err != nil {
		out.ReadErr = err.Error()
	}
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out.PageBodies += string(b)
		return resp.StatusCode
	}
	out.Status = do("GET", "/status", "")
	out.Page = do("GET", "/ui/api/file?path=/in/a.pdf", "")
	out.Reprocess = do("POST", "/reprocess", `{"paths":["/in/a.pdf"],"confirm":true}`)
	cfg, err := config.Load(cfgFile)
	if err == nil {
		_, err = admin.NewClient(cfg).Reprocess(context.Background(), []string{"/in/a.pdf"})
	}
	if err != nil {
		out.ClientErr = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// A local account is not the administrator: a process running as nobody
// can neither read the token file nor reprocess files nor read data, while
// the owner's CLI can.
func TestOtherUsersCannotActOnTheDaemon(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix users and file modes only")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a helper process as uid 65534 (nobody); run the tests as root to check this")
	}
	// Every folder on the way is open to all: only the token file's own
	// mode keeps nobody out.
	dir, err := os.MkdirTemp("", "ppsync-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := testConfig(t, dir, addr)
	for _, p := range []string{dir, filepath.Join(dir, "ppsync.toml")} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := &reprocessing{}
	servePage(t, cfg, src)
	tokenFile := config.AdminTokenFile(cfg.State.Path)

	// The test binary, where nobody may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperAsNobody$", "-test.v=false")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), nobodyEnv+"=1", "TOKEN_FILE="+tokenFile, "BASE=http://"+addr, "CONFIG="+cfg.File, "HOME="+dir)
	asNobody(cmd)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, raw)
	}
	var got struct {
		UID                     int
		ReadErr                 string
		Status, Page, Reprocess int
		ClientErr, PageBodies   string
	}
	line := raw
	if i := strings.Index(string(raw), "{"); i >= 0 {
		line = raw[i:]
	}
	if err := json.NewDecoder(strings.NewReader(string(line))).Decode(&got); err != nil {
		t.Fatalf("helper output %q: %v", raw, err)
	}
	t.Logf("as nobody: %+v", got)
	if got.UID != 65534 {
		t.Fatalf("the helper ran as uid %d", got.UID)
	}
	if !strings.Contains(got.ReadErr, "permission denied") {
		t.Errorf("nobody could read the token file: %q", got.ReadErr)
	}
	if got.Status != 401 || got.Page != 401 || got.Reprocess != 401 || strings.Contains(got.PageBodies, "INV-7") {
		t.Errorf("nobody got status %d, page %d, reprocess %d (%q); want 401s", got.Status, got.Page, got.Reprocess, got.PageBodies)
	}
	if !strings.Contains(got.ClientErr, "permission denied") || !strings.Contains(got.ClientErr, "as root") {
		t.Errorf("the CLI as nobody does not say why: %q", got.ClientErr)
	}
	if len(src.marked) != 0 {
		t.Fatalf("nobody reprocessed %v", src.marked)
	}
	// The owner's CLI gets in.
	ans, err := admin.NewClient(cfg).Reprocess(context.Background(), []string{"/in/a.pdf"})
	if err != nil || len(ans.Reprocessed) != 1 {
		t.Fatalf("owner's client: %+v %v", ans, err)
	}
}

// The README's SSH tunnel: a forward from another loopback port reaches
// the page (the Host then names the forward's port).
func TestPageThroughATunnel(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, t.TempDir(), addr)
	servePage(t, cfg, &fake{})
	tok := auth(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // the tunnel: every connection piped to the endpoint
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, host := range []string{"127.0.0.1:" + port, "[::1]:" + port, "localhost:" + port} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := http.StatusOK
		if strings.HasPrefix(host, "localhost") {
			want = http.StatusForbidden // a name, at a port not the endpoint's
		}
		if resp.StatusCode != want {
			t.Errorf("Host %s through the tunnel: %d %s, want %d", host, resp.StatusCode, b, want)
		}
		if want == 200 && !strings.Contains(string(b), "INV-7") {
			t.Errorf("Host %s: not the page: %s", host, b)
		}
	}
}
