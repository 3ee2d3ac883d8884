package admin

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/webui"
	"github.com/prometheus/client_golang/prometheus"
)

// StateHeader carries the state path the CLI expects the daemon to serve.
// A request that names another state file is refused.
const StateHeader = "X-Ppsync-State"

// Identity says which installation a daemon serves.
type Identity struct {
	Config     string `json:"config"`
	State      string `json:"state"`
	InstanceID string `json:"instance_id"`
	PID        int    `json:"pid"`
}

// Options configures the endpoint's guard.
type Options struct {
	// Listen is the address served (after listening: the real port).
	Listen string
	// Hosts are extra names accepted in the Host header.
	Hosts []string
	// Identity is reported by /identity and /status and checked against
	// the StateHeader of every request.
	Identity Identity
	// Page serves every path the admin routes do not: the status page at
	// "/" (webui.New). Nil serves the admin routes alone.
	Page http.Handler
	// Security protects the whole endpoint, page and admin routes alike
	// (webui.Protect: credentials for all but /healthz, sign-in links,
	// throttled failures, cross-site refusal).
	Security webui.Security
	// TokenFile is where Serve writes the endpoint's own token at start
	// (mode 0600, replacing a stale one; removed at stop) for the CLI:
	// config.AdminTokenFile of the state. "" writes none.
	TokenFile string
	// TLS, when set, serves the endpoint over HTTPS.
	TLS *tls.Config
	// Activity feeds the drop-to-result latency histogram in /metrics.
	Activity *activity.Recorder
	// Collectors are other stages' metrics served in /metrics beside the
	// endpoint's own (the notifier's counters, say).
	Collectors []prometheus.Collector
	// History serves GET /api/history (the daily totals); nil serves none.
	History HistorySource
}

// OptionsFor returns the options for the daemon of cfg, with a fresh
// instance id.
func OptionsFor(cfg *config.Config) Options {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return Options{Listen: cfg.Admin.Listen, Hosts: cfg.Admin.Hosts,
		Identity:  Identity{Config: cfg.File, State: cfg.State.Path, InstanceID: hex.EncodeToString(b), PID: os.Getpid()},
		Security:  webui.Security{Listen: cfg.Admin.Listen, PasswordHash: cfg.Admin.AuthPasswordHash, PublicMetrics: cfg.Admin.PublicMetrics},
		TokenFile: config.AdminTokenFile(cfg.State.Path)}
}

// hostGuard refuses requests naming a foreign Host (DNS rebinding).
func hostGuard(o Options, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(o.Listen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, o.Listen, port, o.Hosts) {
			http.Error(w, "forbidden: Host "+r.Host+" is not this admin endpoint's address (add the name to [admin] hosts to allow it)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard refuses what a browser could be tricked into sending, and
// requests meant for another state.
func guard(o Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.Header.Get(StateHeader); s != "" && o.Identity.State != "" && filepath.Clean(s) != filepath.Clean(o.Identity.State) {
			http.Error(w, "conflict: this daemon serves the state "+o.Identity.State+" (config "+o.Identity.Config+"), not "+s, http.StatusConflict)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The page's uploads send the file itself as the body, marked
			// by the page's header (which a cross-site form cannot set).
			pageUpload := strings.HasPrefix(r.URL.Path, "/ui/") && r.Header.Get(webui.RequestHeader) != ""
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); !pageUpload && (err != nil || mt != "application/json") {
				http.Error(w, "unsupported media type: send Content-Type: application/json", http.StatusUnsupportedMediaType)
				return
			}
			if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host, o.TLS != nil) {
				http.Error(w, "forbidden: cross-origin request from "+origin, http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed accepts the listen address, loopback IP addresses at any
// port (an SSH tunnel's local end has its own port; DNS rebinding needs a
// name, never an IP literal), localhost and the listen IP at the listen
// port, and the configured names at any port.
func hostAllowed(hostport, listen, port string, extra []string) bool {
	if strings.EqualFold(hostport, listen) {
		return true
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		host, p = hostport, ""
	}
	host = strings.Trim(host, "[]")
	if slices.ContainsFunc(extra, func(h string) bool { return strings.EqualFold(strings.Trim(h, "[]"), host) }) {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	if p != port || port == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip == nil {
		return false
	}
	lh, _, _ := net.SplitHostPort(listen)
	lip := net.ParseIP(strings.Trim(lh, "[]"))
	return lip != nil && (lip.Equal(ip) || lip.IsUnspecified())
}

func sameOrigin(origin, host string, tls bool) bool {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == scheme && strings.EqualFold(u.Host, host)
}
