package webui

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/webtest"
)

func TestIsLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:9847": true, "[::1]:9847": true, "localhost:1": true, "127.1.2.3:80": true,
		"0.0.0.0:9847": false, ":9847": false, "192.168.1.5:9847": false, "[::]:80": false, "files.example:80": false,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
}

func TestAuthentication(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("in")) })
	const token = "0123456789abcdef0123"
	tests := []struct {
		name  string
		sec   Security
		setup func(*http.Request)
		want  int
	}{
		{"loopback without any credential configured is refused", Security{Listen: "127.0.0.1:9847"}, nil, 403},
		{"loopback needs the local token", Security{Listen: "127.0.0.1:9847", LocalToken: token}, nil, 401},
		{"local token on loopback", Security{Listen: "127.0.0.1:9847", LocalToken: token}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"wrong local token", Security{Listen: "127.0.0.1:9847", LocalToken: token}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x"+token) }, 401},
		{"both tokens work", Security{Listen: "127.0.0.1:9847", LocalToken: "x" + token, Token: token}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"open address without auth configured is refused", Security{Listen: "0.0.0.0:9847"}, nil, 403},
		{"open address, no credentials", Security{Listen: "0.0.0.0:9847", PasswordHash: string(hash)}, nil, 401},
		{"wrong password", Security{Listen: "0.0.0.0:9847", PasswordHash: string(hash)}, func(r *http.Request) { r.SetBasicAuth("office", "nope") }, 401},
		{"right password", Security{Listen: "0.0.0.0:9847", PasswordHash: string(hash)}, func(r *http.Request) { r.SetBasicAuth("office", "correct horse") }, 200},
		{"token", Security{Listen: "10.0.0.1:9847", Token: token}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"wrong token", Security{Listen: "10.0.0.1:9847", Token: token}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token+"x") }, 401},
		{"token is not a password", Security{Listen: "10.0.0.1:9847", Token: token}, func(r *http.Request) { r.SetBasicAuth("x", token) }, 401},
		{"a configured password applies on loopback too", Security{Listen: "127.0.0.1:9847", PasswordHash: string(hash)}, nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Protect(ok, tt.sec))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/status", nil)
			if tt.setup != nil {
				tt.setup(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate: the browser cannot ask for the password")
			}
		})
	}
}

func TestSessionCookieSparesThePassword(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := httptest.NewServer(Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		Security{Listen: "0.0.0.0:1", PasswordHash: string(hash), Now: clock}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.SetBasicAuth("", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == CookieName("0.0.0.0:1") {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie = %+v, want HttpOnly SameSite=Strict", c)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(c)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 200 {
		t.Fatalf("with the session: %d", resp.StatusCode)
	}
	req.Header.Set("Cookie", CookieName("0.0.0.0:1")+"=forged")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("with a forged session: %d", resp.StatusCode)
	}
}

func TestUnauthenticatedPageOnOpenAddress(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(Protect(New(Options{Reader: f.reader, Live: f.live}), Security{Listen: "0.0.0.0:9847", Token: "0123456789abcdef"}))
	defer srv.Close()
	for _, p := range []string{"/", "/ui/api/overview", "/ui/api/files"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", p, resp.StatusCode)
		}
	}
	resp, body := post(t, srv.URL, "/ui/api/retry", ActionRequest{Paths: []string{"x"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST retry without credentials: %d %s", resp.StatusCode, body)
	}
	if r, _ := f.live.calls(); len(r) != 0 {
		t.Error("an unauthenticated request reached Retry")
	}
}

func TestReadTokenAndTLSConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := dir + "/" + name
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := ReadToken(write("tok", "  abcdefghijklmnopqrstuvwxyz \nsecond line")); err != nil || tok != "abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("token = %q, %v", tok, err)
	}
	if _, err := ReadToken(write("short", "abc")); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: %v", err)
	}
	if _, err := ReadToken(dir + "/missing"); err == nil || !strings.Contains(err.Error(), "auth_token_file") {
		t.Errorf("missing token file: %v", err)
	}
	if _, err := TLSConfig(dir+"/none.pem", dir+"/none.key"); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Errorf("missing cert: %v", err)
	}
	cert, key := webtest.SelfSigned(t, dir, "ppsync.test")
	cfg, err := TLSConfig(cert, key)
	if err != nil || cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
		t.Fatalf("TLSConfig = %+v, %v", cfg, err)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := webtest.SelfSigned(t, dir, "ppsync.test")
	tokFile := filepath.Join(dir, "token")
	if err := writeFile(tokFile, "0123456789abcdef0123\n"); err != nil {
		t.Fatal(err)
	}
	a := config.Admin{Listen: "0.0.0.0:9847", Upload: true, AuthTokenFile: tokFile, TLSCert: cert, TLSKey: key}
	a.UploadMaxSize.Bytes = 1 << 20
	sec, tc, up, err := FromConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Token != "0123456789abcdef0123" || !sec.TLS || !sec.AuthRequired() || tc == nil || !up.Enabled || up.MaxBytes != 1<<20 {
		t.Fatalf("sec %+v tls %v upload %+v", sec, tc != nil, up)
	}
	sec, tc, _, err = FromConfig(config.Admin{Listen: "127.0.0.1:9847"})
	if err != nil || tc != nil || !sec.AuthRequired() {
		t.Fatalf("loopback default: sec %+v tls %v err %v; want auth, no TLS", sec, tc != nil, err)
	}
	if _, _, _, err := FromConfig(config.Admin{AuthTokenFile: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing token file was accepted")
	}
}
