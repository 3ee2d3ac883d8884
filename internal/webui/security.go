package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ppsync/ppsync/internal/netutil"
)

// RequestHeader marks a request as sent by the page's own script. A
// cross-site form cannot set it, and a cross-site script cannot send it
// without a CORS preflight, which is never granted.
const RequestHeader = "X-PPSync-Request"

const (
	sessionCookie = "ppsync_session"
	sessionTTL    = 12 * time.Hour
)

// Security is how the admin endpoint is protected.
type Security struct {
	// Listen is the address served; a loopback address needs no auth.
	Listen string
	// PasswordHash is a bcrypt hash; any user name is accepted with it.
	PasswordHash string
	// Token is a bearer token (read from [admin] auth_token_file).
	Token string
	// TLS tells whether the endpoint is served over TLS (cookies get Secure).
	TLS bool
	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

// AuthRequired tells whether requests must authenticate: always when a
// password or token is set, and when the listen address is not loopback.
func (s Security) AuthRequired() bool {
	return s.PasswordHash != "" || s.Token != "" || !IsLoopback(s.Listen)
}

// IsLoopback tells whether a host:port (or host) only accepts local
// connections. An empty host (":9847") listens everywhere: not loopback.
func IsLoopback(listen string) bool { return netutil.IsLoopback(listen) }

// Protect wraps the whole admin endpoint: authentication when required,
// and refusal of cross-site state-changing requests.
func Protect(h http.Handler, sec Security) http.Handler {
	if sec.Now == nil {
		sec.Now = time.Now
	}
	g := &guard{sec: sec, next: h, sessions: map[string]time.Time{}}
	return g
}

type guard struct {
	sec      Security
	next     http.Handler
	mu       sync.Mutex
	sessions map[string]time.Time // session id → expiry
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.sec.AuthRequired() && !g.authenticated(w, r) {
		return
	}
	if !safeMethod(r.Method) {
		if msg := crossSite(r); msg != "" {
			http.Error(w, "refused: "+msg, http.StatusForbidden)
			return
		}
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	g.next.ServeHTTP(w, r)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossSite returns why a state-changing request is refused, or "".
// A request must say it is not a plain form post (a JSON body or the page's
// header), and when a browser says where it comes from, that must be here.
func crossSite(r *http.Request) string {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" && r.Header.Get(RequestHeader) == "" {
		return "a state-changing request must send a JSON body (Content-Type: application/json) or the " + RequestHeader + " header"
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return "cross-site request (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || o == "null" || !strings.EqualFold(u.Host, r.Host) {
			return "cross-site request from " + o
		}
	}
	return ""
}

// authenticated checks a session cookie, a bearer token, or the password
// (HTTP Basic), and answers 401 itself when none is good.
func (g *guard) authenticated(w http.ResponseWriter, r *http.Request) bool {
	if c, err := r.Cookie(sessionCookie); err == nil && g.validSession(c.Value) {
		return true
	}
	if g.sec.Token != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(g.sec.Token)) == 1 {
			return true
		}
	}
	if g.sec.PasswordHash != "" {
		if _, pw, ok := r.BasicAuth(); ok && bcrypt.CompareHashAndPassword([]byte(g.sec.PasswordHash), []byte(pw)) == nil {
			// A session spares the bcrypt cost on every later request.
			if id, err := g.newSession(); err == nil {
				http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
					Secure: g.sec.TLS, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
			}
			return true
		}
	}
	if g.sec.PasswordHash == "" && g.sec.Token == "" {
		http.Error(w, fmt.Sprintf("the admin endpoint listens on %s, which other machines can reach, and no authentication is set: "+
			"set [admin] auth_password_hash or auth_token_file in the config (or listen on 127.0.0.1 and use an SSH tunnel)", g.sec.Listen),
			http.StatusForbidden)
		return false
	}
	if g.sec.PasswordHash != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="ppsync", charset="UTF-8"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ppsync"`)
	}
	http.Error(w, "authentication required: sign in with the admin password, or send the token as 'Authorization: Bearer TOKEN'", http.StatusUnauthorized)
	return false
}

func (g *guard) newSession() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	now := g.sec.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, exp := range g.sessions {
		if now.After(exp) {
			delete(g.sessions, k)
		}
	}
	g.sessions[id] = now.Add(sessionTTL)
	return id, nil
}

func (g *guard) validSession(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.sessions[id]
	return ok && g.sec.Now().Before(exp)
}

// ReadToken reads a bearer token file: its first line, trimmed.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("[admin] auth_token_file: cannot read %s: %w", path, err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 {
		return "", fmt.Errorf("[admin] auth_token_file %s: the token must be at least 16 characters (e.g. the output of 'openssl rand -hex 32')", path)
	}
	return tok, nil
}

// TLSConfig loads the admin endpoint's certificate and key.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("[admin] tls_cert %s / tls_key %s: %w (both must be PEM files, the key unencrypted)", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
