package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/netutil"
)

// validator checks a decoded Config, collecting every problem with its line.
type validator struct {
	c    *Config
	file string
	dir  string
	loc  *locator
	errs Errors
	// bad are keys whose value could not be read (already reported).
	bad map[string]bool
}

func (v *validator) fail(key, format string, args ...any) {
	if v.bad[key] {
		return
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: v.loc.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warn(key, format string, args ...any) {
	line := v.loc.line(key)
	loc := v.file
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", v.file, line)
	}
	v.c.Warnings = append(v.c.Warnings, fmt.Sprintf("%s: %s: %s", loc, key, fmt.Sprintf(format, args...)))
}

func (v *validator) abs(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "~/") || p == "~" {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	if !filepath.IsAbs(p) && !isUNC(p) {
		p = filepath.Join(v.dir, p)
	}
	return filepath.Clean(p)
}

func isUNC(p string) bool { return strings.HasPrefix(p, `\\`) }

func (v *validator) duration(key string, d *Duration, def, warnBelow time.Duration) {
	if !d.set {
		d.Duration = def
		return
	}
	if d.Duration <= 0 {
		v.fail(key, "must be a positive duration such as %q", def.String())
		return
	}
	if warnBelow > 0 && d.Duration < warnBelow {
		v.warn(key, "%s is unusually short (fine for tests; the default is %s)", d.Duration, def)
	}
}

func (v *validator) run() {
	c := v.c
	// [api]
	if c.API.BaseURL == "" {
		c.API.BaseURL = DefaultBaseURL
	}
	if u, err := url.Parse(c.API.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.fail("api.base_url", "%q is not an http(s) URL: use %q", c.API.BaseURL, DefaultBaseURL)
	} else if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.fail("api.base_url", "plain http:// to %s would send the API key in clear text: use https:// (http:// is only for a loopback emulator)", u.Hostname())
	}
	set := 0
	for _, s := range []string{c.API.APIKeyEnv, c.API.APIKeyFile, c.API.APIKey} {
		if s != "" {
			set++
		}
	}
	switch {
	case set > 1:
		v.fail("api.api_key", "set exactly one of api_key_env, api_key_file and api_key")
	case set == 0:
		c.API.APIKeyEnv = DefaultAPIKeyEnv
	}
	if c.API.APIKeyFile != "" {
		c.API.APIKeyFile = v.abs(c.API.APIKeyFile)
	}
	if c.API.APIKey != "" {
		v.warn("api.api_key", "the key is written in the config file; prefer api_key_env or api_key_file (mode 0600)")
	}
	if c.API.RequestsPerWindow == 0 {
		c.API.RequestsPerWindow = apitypes.MaxRequestsPerWindow
	} else if c.API.RequestsPerWindow < 0 {
		v.fail("api.requests_per_window", "must be positive (the API allows %d per minute)", apitypes.MaxRequestsPerWindow)
	}
	if c.API.SubmissionsPerWindow == 0 {
		c.API.SubmissionsPerWindow = apitypes.MaxSubmissionsPerWindow
	} else if c.API.SubmissionsPerWindow < 0 {
		v.fail("api.submissions_per_window", "must be positive (the API allows %d per minute)", apitypes.MaxSubmissionsPerWindow)
	}
	if c.API.RequestsPerWindow > apitypes.MaxRequestsPerWindow || c.API.SubmissionsPerWindow > apitypes.MaxSubmissionsPerWindow {
		v.warn("api.requests_per_window", "above the documented limits (%d requests, %d submissions per minute): expect 429s",
			apitypes.MaxRequestsPerWindow, apitypes.MaxSubmissionsPerWindow)
	}
	v.duration("api.rate_window", &c.API.RateWindow, time.Minute, time.Minute)
	v.duration("api.request_timeout", &c.API.RequestTimeout, 30*time.Second, 0)
	v.envFile()

	// [state]
	if c.State.Path == "" {
		c.State.Path = DefaultStateName
	}
	c.State.Path = v.abs(c.State.Path)
	switch r := c.State.Retention; {
	case !r.set:
		c.State.Retention.Duration = DefaultRetention
	case r.Duration < 0:
		v.fail("state.retention", "must be a duration such as \"180d\" (or \"0s\" to keep finished records for ever), not %s", r.Duration)
	case r.Duration > 0 && r.Duration < 24*time.Hour:
		v.warn("state.retention", "%s is very short: content seen again after that is submitted and charged again (the default is 180d)", r.Duration)
	}

	// [upload]
	v.duration("upload.batch_window", &c.Upload.BatchWindow, 2*time.Second, 0)
	if c.Upload.MaxBatchFiles == 0 {
		c.Upload.MaxBatchFiles = 50
	} else if c.Upload.MaxBatchFiles < 0 || c.Upload.MaxBatchFiles > 50 {
		v.fail("upload.max_batch_files", "must be 1 to 50 (the API takes at most 50 files per submission)")
	}
	if !c.Upload.MaxBatchBytes.set {
		c.Upload.MaxBatchBytes.Bytes = 256 << 20
	} else if c.Upload.MaxBatchBytes.Bytes <= 0 {
		v.fail("upload.max_batch_bytes", "must be a positive size such as \"256MiB\"")
	}
	if !c.Upload.MaxFileSize.set {
		c.Upload.MaxFileSize.Bytes = 100 << 20
	} else if c.Upload.MaxFileSize.Bytes <= 0 {
		v.fail("upload.max_file_size", "must be a positive size such as \"100MiB\"")
	}
	v.duration("upload.credit_recheck", &c.Upload.CreditRecheck, time.Minute, 0)

	// [poll]
	v.duration("poll.interval", &c.Poll.Interval, 5*time.Second, time.Second)

	// [log]
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.fail("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		v.fail("log.format", "%q: use text or json", c.Log.Format)
	}

	// [admin]
	switch c.Admin.Listen {
	case "":
		c.Admin.Listen = AdminListenFor(c.State.Path)
	case "off":
	default:
		host, port, err := net.SplitHostPort(c.Admin.Listen)
		if err != nil || port == "" {
			v.fail("admin.listen", "%q is not host:port (e.g. \"127.0.0.1:9847\"), or \"off\"", c.Admin.Listen)
		} else if !isLoopback(host) && c.Admin.AuthPasswordHash == "" && c.Admin.AuthTokenFile == "" {
			v.fail("admin.listen", "%s is reachable from other machines, and the endpoint can spend credits (retry): set admin.auth_password_hash or admin.auth_token_file (and tls_cert/tls_key), or listen on a loopback address and use an SSH tunnel", c.Admin.Listen)
		}
	}

	v.adminHosts()
	v.adminWeb()

	// [webhook]
	v.webhook()

	// [[notify]]
	v.notify()

	// [[inbox]]
	if len(c.Inboxes) == 0 {
		v.fail("inbox", "no [[inbox]] configured: add one with path and parser_id")
	}
	for i := range c.Inboxes {
		v.inbox(i)
	}
	v.overlaps()
}

func (v *validator) webhook() {
	w := &v.c.Webhook
	if w.Listen == "" {
		w.Listen = "127.0.0.1:8788"
	}
	if len(w.Events) == 0 {
		w.Events = []string{"extraction.document_completed"}
	}
	v.duration("webhook.poll_interval", &w.PollInterval, 5*time.Minute, 0)
	if !w.MaxBody.set {
		w.MaxBody.Bytes = 64 << 10
	}
	if !w.Enabled {
		return
	}
	if _, _, err := net.SplitHostPort(w.Listen); err != nil {
		v.fail("webhook.listen", "%q is not host:port (e.g. \"127.0.0.1:8788\" behind a reverse proxy)", w.Listen)
	}
	u, err := url.Parse(w.PublicURL)
	switch {
	case w.PublicURL == "":
		v.fail("webhook.public_url", "required with enabled = true: the https:// address where the API reaches the receiver (reverse proxy or tunnel)")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.fail("webhook.public_url", "%q is not an http(s) URL", w.PublicURL)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		v.fail("webhook.public_url", "the API only calls https:// URLs (plain http:// is for a loopback emulator): put TLS in front of the receiver")
	}
	for _, e := range w.Events {
		if e != "extraction.document_completed" && e != "extraction.job_completed" {
			v.fail("webhook.events", "%q: use \"extraction.document_completed\" and/or \"extraction.job_completed\"", e)
		}
	}
	if w.Secret != "" && len(w.Secret) < 8 {
		v.fail("webhook.secret", "must be at least 8 characters (the API's minimum)")
	}
	if (w.TLSCert == "") != (w.TLSKey == "") {
		v.fail("webhook.tls_cert", "set both tls_cert and tls_key, or neither")
	}
	for _, f := range []struct{ key, path string }{{"webhook.tls_cert", w.TLSCert}, {"webhook.tls_key", w.TLSKey}} {
		if f.path == "" {
			continue
		}
		p := v.abs(f.path)
		if _, err := os.Stat(p); err != nil {
			v.fail(f.key, "cannot read %s: %v", p, errors.Unwrap(err))
		}
		if f.key == "webhook.tls_cert" {
			w.TLSCert = p
		} else {
			w.TLSKey = p
		}
	}
}

func isLoopback(host string) bool { return netutil.IsLoopback(host) }
