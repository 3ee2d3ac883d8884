package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/ppsync/ppsync/internal/netutil"
)

// RequestHeader marks a request as sent by the page's own script. A
// cross-site form cannot set it, and a cross-site script cannot send it
// without a CORS preflight, which is never granted.
const RequestHeader = "X-PPSync-Request"

// Sign-in routes: LoginPath exchanges a one-time code for a session (a
// plain link a person opens), LoginCodePath hands a signed-in client (the
// CLI, with the token) such a code.
const (
	LoginPath     = "/ui/login"
	LoginCodePath = "/ui/api/login-code"
)

const (
	sessionCookie = "ppsync_session"
	sessionTTL    = 12 * time.Hour
	// LoginCodeTTL is how long a one-time sign-in code stays valid.
	LoginCodeTTL  = 2 * time.Minute
	maxLoginCodes = 64

	// Failed sign-ins: each client (IP address, an IPv6 /64) may fail
	// failBurst times in a row, then once every failEvery. Over that it
	// gets 429 before any password is checked.
	failBurst   = 10
	failEvery   = 6 * time.Second
	maxFailures = 4096 // clients tracked at once
)

// Security is how the admin endpoint is protected. Every request but
// /healthz (and /metrics when PublicMetrics) must carry a credential: a
// session cookie, a bearer token, or the password.
type Security struct {
	// Listen is the address served.
	Listen string
	// PasswordHash is a bcrypt hash; any user name is accepted with it.
	PasswordHash string
	// Token is a bearer token (read from [admin] auth_token_file).
	Token string
	// LocalToken is the daemon's own bearer token, written at start to a
	// file only the service account can read (see admin.Serve).
	LocalToken string
	// PublicMetrics serves /metrics without credentials.
	PublicMetrics bool
	// NoAuth serves everything without credentials. Only for tests and
	// for embedding the page behind another layer that authenticates.
	NoAuth bool
	// TLS tells whether the endpoint is served over TLS (cookies get Secure).
	TLS bool
	// Log receives failed sign-ins (one line each, for fail2ban).
	Log *slog.Logger
	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

// AuthRequired tells whether requests must authenticate: always, unless
// NoAuth is set.
func (s Security) AuthRequired() bool { return !s.NoAuth }

// hasCredential tells whether any way to sign in is configured.
func (s Security) hasCredential() bool {
	return s.PasswordHash != "" || s.Token != "" || s.LocalToken != ""
}

// IsLoopback tells whether a host:port (or host) only accepts local
// connections. An empty host (":9847") listens everywhere: not loopback.
func IsLoopback(listen string) bool { return netutil.IsLoopback(listen) }

// CookieName is the session cookie of the endpoint at listen. Browsers
// share cookies between the ports of one host, so each port has its own.
func CookieName(listen string) string {
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "" && port != "0" {
		return sessionCookie + "_" + port
	}
	return sessionCookie
}

// Protect wraps the whole admin endpoint: authentication, the sign-in
// routes, and refusal of cross-site state-changing requests.
func Protect(h http.Handler, sec Security) http.Handler {
	if sec.Now == nil {
		sec.Now = time.Now
	}
	if sec.Log == nil {
		sec.Log = slog.New(slog.DiscardHandler)
	}
	return &guard{sec: sec, next: h, cookie: CookieName(sec.Listen), sessions: map[string]time.Time{},
		codes: map[string]time.Time{}, failures: map[string]*failures{}}
}

type guard struct {
	sec    Security
	next   http.Handler
	cookie string

	mu       sync.Mutex
	sessions map[string]time.Time // session id → expiry
	codes    map[string]time.Time // one-time sign-in code → expiry
	failures map[string]*failures // client → its failed sign-ins
}

type failures struct {
	lim  *rate.Limiter
	seen time.Time
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	switch {
	case r.URL.Path == "/healthz" || (g.sec.PublicMetrics && r.URL.Path == "/metrics"):
		// Public, read-only.
		if !safeMethod(r.Method) {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		g.next.ServeHTTP(w, r)
		return
	case r.URL.Path == LoginPath:
		g.login(w, r)
		return
	}
	if g.sec.AuthRequired() && !g.authenticated(w, r) {
		return
	}
	if !safeMethod(r.Method) {
		if msg := crossSite(r); msg != "" {
			http.Error(w, "refused: "+msg, http.StatusForbidden)
			return
		}
	}
	if r.URL.Path == LoginCodePath {
		g.loginCode(w, r)
		return
	}
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
// (HTTP Basic), and answers itself when none is good: 401, or 429 when the
// client failed too often (before any password is checked).
func (g *guard) authenticated(w http.ResponseWriter, r *http.Request) bool {
	if c, err := r.Cookie(g.cookie); err == nil && g.validSession(c.Value) {
		return true
	}
	if !g.sec.hasCredential() {
		http.Error(w, fmt.Sprintf("the admin endpoint at %s has no way to sign in configured: "+
			"set [admin] auth_password_hash or auth_token_file in the config", g.sec.Listen), http.StatusForbidden)
		return false
	}
	bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if hasBearer && g.tokenMatches(strings.TrimSpace(bearer)) {
		return true
	}
	_, pw, hasBasic := r.BasicAuth()
	if !hasBearer && !hasBasic {
		g.askToSignIn(w, r, "")
		return false
	}
	client := clientKey(r.RemoteAddr)
	// Every attempt that still has to be checked costs one of the client's
	// allowance, before bcrypt runs: a flood of guesses gets 429s.
	if !g.allow(client) {
		g.sec.Log.Warn("admin sign-in throttled", "client", client, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("Retry-After", strconv.Itoa(int(failEvery.Seconds())))
		http.Error(w, "too many failed sign-ins from "+client+": wait a minute and try again", http.StatusTooManyRequests)
		return false
	}
	if hasBasic && g.sec.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(g.sec.PasswordHash), []byte(pw)) == nil {
		g.succeeded(client)
		// A session spares the bcrypt cost on every later request.
		g.setSession(w)
		return true
	}
	kind := "password"
	if hasBearer {
		kind = "token"
	}
	g.sec.Log.Warn("admin sign-in failed", "client", client, "credential", kind, "method", r.Method, "path", r.URL.Path)
	g.askToSignIn(w, r, "the "+kind+" is wrong")
	return false
}

func (g *guard) tokenMatches(tok string) bool {
	ok := false
	for _, want := range []string{g.sec.Token, g.sec.LocalToken} {
		if want != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1 {
			ok = true
		}
	}
	return ok
}

// askToSignIn answers 401: a browser gets a page saying how to sign in
// (and the password prompt when a password is set).
func (g *guard) askToSignIn(w http.ResponseWriter, r *http.Request, why string) {
	if g.sec.PasswordHash != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="ppsync", charset="UTF-8"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ppsync"`)
	}
	how := "open the one-time sign-in link that 'ppsync status -c CONFIG' prints (run it as the service's user or root), " +
		"or send the token from the daemon's token file as 'Authorization: Bearer TOKEN'"
	if g.sec.PasswordHash != "" {
		how = "sign in with the admin password, or " + how
	}
	msg := "authentication required: " + how
	if why != "" {
		msg = why + "; " + msg
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>ppsync: sign in</title><h1>Sign in to ppsync</h1><p>%s.</p>", html.EscapeString(msg))
		return
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

// clientKey is who a failed sign-in is counted against: the IP address,
// or for IPv6 its /64 (one host usually holds a whole /64).
func clientKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// allow takes one attempt from client's allowance.
func (g *guard) allow(client string) bool {
	now := g.sec.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.failures[client]
	if f == nil {
		if len(g.failures) >= maxFailures {
			// Forget clients whose allowance has refilled; if none has,
			// the newcomer shares the strictest fate: refused.
			for k, old := range g.failures {
				if now.Sub(old.seen) > failBurst*failEvery {
					delete(g.failures, k)
				}
			}
			if len(g.failures) >= maxFailures {
				return false
			}
		}
		f = &failures{lim: rate.NewLimiter(rate.Every(failEvery), failBurst)}
		g.failures[client] = f
	}
	f.seen = now
	return f.lim.AllowN(now, 1)
}

// succeeded forgets client's failures after a good password.
func (g *guard) succeeded(client string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.failures, client)
}

func (g *guard) setSession(w http.ResponseWriter) {
	id, err := g.newSession()
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: g.cookie, Value: id, Path: "/", HttpOnly: true,
		Secure: g.sec.TLS, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (g *guard) newSession() (string, error) {
	id, err := randomID(32)
	if err != nil {
		return "", err
	}
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

// LoginCode is the answer of POST LoginCodePath.
type LoginCode struct {
	// Path is the sign-in link's path and query (LoginPath?code=...).
	Path    string    `json:"path"`
	Expires time.Time `json:"expires"`
}

// loginCode hands a signed-in client a one-time sign-in code.
func (g *guard) loginCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		http.Error(w, "cannot make a sign-in code: "+err.Error(), http.StatusInternalServerError)
		return
	}
	code := base64.RawURLEncoding.EncodeToString(b)
	now := g.sec.Now()
	exp := now.Add(LoginCodeTTL)
	g.mu.Lock()
	for k, e := range g.codes {
		if now.After(e) {
			delete(g.codes, k)
		}
	}
	if len(g.codes) >= maxLoginCodes {
		g.mu.Unlock()
		http.Error(w, "too many unused sign-in links: wait two minutes", http.StatusTooManyRequests)
		return
	}
	g.codes[code] = exp
	g.mu.Unlock()
	writeJSON(w, LoginCode{Path: LoginPath + "?code=" + code, Expires: exp})
}

// login exchanges a one-time code for a session cookie, then sends the
// browser to the page at a URL without the code.
func (g *guard) login(w http.ResponseWriter, r *http.Request) {
	if !safeMethod(r.Method) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	code := r.URL.Query().Get("code")
	client := clientKey(r.RemoteAddr)
	now := g.sec.Now()
	g.mu.Lock()
	exp, ok := g.codes[code]
	if ok {
		delete(g.codes, code) // once only, even when expired
	}
	g.mu.Unlock()
	if ok && now.Before(exp) {
		g.setSession(w)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !g.allow(client) {
		g.sec.Log.Warn("admin sign-in throttled", "client", client, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("Retry-After", strconv.Itoa(int(failEvery.Seconds())))
		http.Error(w, "too many failed sign-ins from "+client+": wait a minute and try again", http.StatusTooManyRequests)
		return
	}
	g.sec.Log.Warn("admin sign-in failed", "client", client, "credential", "login link", "method", r.Method, "path", r.URL.Path)
	g.askToSignIn(w, r, "this sign-in link was already used or has expired (each works once, for "+LoginCodeTTL.String()+"): run 'ppsync status' for a new one")
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
