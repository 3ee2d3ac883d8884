// Package config turns ppsync's TOML file into a typed, validated Config.
// It reads the file (and an api_key_file) and stats the paths it names;
// it never touches the network.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole file.
type Config struct {
	API     API     `toml:"api"`
	State   State   `toml:"state"`
	Inboxes []Inbox `toml:"inbox"`
	Upload  Upload  `toml:"upload"`
	Poll    Poll    `toml:"poll"`
	Log     Log     `toml:"log"`
	Admin   Admin   `toml:"admin"`
	Webhook Webhook `toml:"webhook"`

	// File is the absolute path the config was read from.
	File string `toml:"-"`
	// Warnings are accepted but unusual values (tiny test durations, say).
	Warnings []string `toml:"-"`
}

// API is [api].
type API struct {
	BaseURL              string   `toml:"base_url"`
	APIKeyEnv            string   `toml:"api_key_env"`
	APIKeyFile           string   `toml:"api_key_file"`
	APIKey               string   `toml:"api_key"`
	RequestsPerWindow    int      `toml:"requests_per_window"`
	SubmissionsPerWindow int      `toml:"submissions_per_window"`
	RateWindow           Duration `toml:"rate_window"`
	RequestTimeout       Duration `toml:"request_timeout"`
	// EnvFile is a KEY=VALUE file read for api_key_env when the variable is
	// not set (the file systemd's EnvironmentFile= reads for the service).
	EnvFile string `toml:"env_file"`
}

// State is [state].
type State struct {
	Path string `toml:"path"`
	// Retention is how long the records of finished files and documents
	// are kept (default 180 days; "0s" keeps them for ever).
	Retention Duration `toml:"retention"`
}

// Inbox is one [[inbox]].
type Inbox struct {
	Path            string   `toml:"path"`
	ParserID        string   `toml:"parser_id"`
	Recursive       bool     `toml:"recursive"`
	Include         []string `toml:"include"`
	Exclude         []string `toml:"exclude"`
	Settle          Duration `toml:"settle"`
	IncompleteAfter Duration `toml:"incomplete_after"`
	Watch           string   `toml:"watch"`
	RescanInterval  Duration `toml:"rescan_interval"`
	After           string   `toml:"after"`
	ProcessedDir    string   `toml:"processed_dir"`
	FailedDir       string   `toml:"failed_dir"`

	// Types are the accepted file-name patterns ("*.pdf", "*.png", ...):
	// the formats the API reads. Files matching include but not types get an
	// UNSUPPORTED_FILE_TYPE error file.
	Types []string `toml:"types"`
	// ResultsDir, when set, receives the result and error files in a tree
	// that mirrors the inbox, leaving the inbox untouched.
	ResultsDir string `toml:"results_dir"`
	// Ledger is a .csv or .xlsx spreadsheet with one row per document;
	// a relative path is inside results_dir, else inside the inbox.
	Ledger string `toml:"ledger"`
	// LedgerSeparator is the CSV field separator: ",", ";" or "\t".
	LedgerSeparator string `toml:"ledger_separator"`
	// LedgerDecimal is the decimal mark of numbers in the CSV: "." or ",".
	LedgerDecimal string `toml:"ledger_decimal"`
}

// Upload is [upload]: how files are gathered into submissions.
type Upload struct {
	BatchWindow   Duration `toml:"batch_window"`
	MaxBatchFiles int      `toml:"max_batch_files"`
	MaxBatchBytes Size     `toml:"max_batch_bytes"`
	MaxFileSize   Size     `toml:"max_file_size"`
	CreditRecheck Duration `toml:"credit_recheck"`
}

// Poll is [poll]: how results are fetched.
type Poll struct {
	Interval Duration `toml:"interval"`
}

// Admin is [admin]: the local admin endpoint (/healthz, /status, /metrics).
type Admin struct {
	// Listen is host:port; "off" disables the endpoint. The default is a
	// loopback port derived from the state path (AdminListenFor).
	Listen string `toml:"listen"`
	// Hosts are extra names accepted in the Host header of admin requests
	// (besides the listen address and localhost at its port).
	Hosts []string `toml:"hosts"`

	// The status page (internal/webui) and the endpoint's protection.
	// Upload enables the page's "drop here" area.
	Upload bool `toml:"upload"`
	// UploadMaxSize caps one uploaded file.
	UploadMaxSize Size `toml:"upload_max_size"`
	// AuthPasswordHash is a bcrypt hash of the admin password.
	AuthPasswordHash string `toml:"auth_password_hash"`
	// AuthTokenFile holds a bearer token (first line).
	AuthTokenFile string `toml:"auth_token_file"`
	// TLSCert and TLSKey serve the endpoint over HTTPS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

// Webhook is [webhook]: results pushed by the API instead of polled.
type Webhook struct {
	Enabled bool `toml:"enabled"`
	// Listen is the receiver's address (behind a reverse proxy or tunnel).
	Listen string `toml:"listen"`
	// PublicURL is what the API calls; its path is the one served.
	PublicURL string   `toml:"public_url"`
	Events    []string `toml:"events"`
	// Secret is an optional static token the API sends back as X-Webhook-Secret.
	Secret  string `toml:"secret"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// PollInterval is the safety-net polling while webhooks are on.
	PollInterval Duration `toml:"poll_interval"`
	// MaxBody caps a delivery's size.
	MaxBody Size `toml:"max_body"`
}

// Log is [log].
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Watch modes.
const (
	WatchAuto   = "auto"
	WatchEvents = "events"
	WatchPoll   = "poll"
)

// Defaults.
const (
	DefaultBaseURL   = "https://api.perfectparser.com"
	DefaultAPIKeyEnv = "PP_API_KEY"
	DefaultStateName = "ppsync-state.db"
	// DefaultRetention keeps finished records for 180 days.
	DefaultRetention = 180 * 24 * time.Hour
)

// defaultExclude covers editor, scanner and download temp files and OS clutter.
var defaultExclude = []string{
	".*", "~$*", "~*.tmp", "*.tmp", "*.temp", "*.part", "*.partial", "*.filepart", "*.crdownload",
	"*.download", "*.swp", "thumbs.db", "desktop.ini", "*.json",
}

// systemExclude are the trash, snapshot and metadata folders (and files)
// of NAS systems and operating systems. They are pruned in every inbox,
// also when exclude is set.
var systemExclude = []string{
	// Synology
	"#recycle", "#snapshot", "@eaDir", "@tmp", "@SynoResource", "@SynoEAStream",
	// QNAP
	"@Recycle", "@Recently-Snapshot", ".@__thumb", ".@__qini", "@__thumb",
	// Windows
	"$RECYCLE.BIN", "System Volume Information", "Thumbs.db", "desktop.ini",
	// macOS
	".DS_Store", ".AppleDouble", ".AppleDB", ".TemporaryItems", ".Spotlight-V100", ".fseventsd", ".Trashes",
	// NetApp and other filers, Linux desktops
	".snapshot", "~snapshot", ".zfs", ".Trash-*", ".Trash",
}

// DefaultExclude returns a copy of the default exclude patterns (those of
// temp files, then SystemExclude).
func DefaultExclude() []string { return append(slices.Clone(defaultExclude), systemExclude...) }

// SystemExclude returns the NAS and OS folders pruned in every inbox.
func SystemExclude() []string { return slices.Clone(systemExclude) }

// Error is a problem in the config file, with the line when known.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist: create it from config.example.toml", abs)
		}
		return nil, fmt.Errorf("config file %s: %w", abs, err)
	}
	return Parse(abs, data)
}

// Parse decodes and validates data as if read from file (an absolute path;
// relative paths in the config are taken relative to its folder).
func Parse(file string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if strings.Contains(pe.Message, `'\n'`) && line > 1 {
				line-- // the parser counts the newline that ended the bad line as the next line
			}
			return nil, &Error{File: file, Line: line, Key: pe.LastKey, Msg: strings.TrimPrefix(pe.Message, "toml: ")}
		}
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ") +
			" (check the value's type: strings in quotes, durations like \"30s\", numbers bare)"}
	}
	c.File = file
	loc := newLocator(data)
	var errs Errors
	for _, k := range md.Undecoded() {
		key := k.String()
		msg := "unknown key"
		if s := suggest(key); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (see config.example.toml for every key)"
		}
		errs = append(errs, &Error{File: file, Line: loc.line(key), Key: key, Msg: msg})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	v := validator{c: &c, file: file, loc: loc, dir: filepath.Dir(file)}
	v.run()
	if len(v.errs) > 0 {
		slices.SortStableFunc(v.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, v.errs
	}
	return &c, nil
}

// --- validation --------------------------------------------------------------

type validator struct {
	c    *Config
	file string
	dir  string
	loc  *locator
	errs Errors
}

func (v *validator) fail(key, format string, args ...any) {
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
		c.API.RequestsPerWindow = 150
	} else if c.API.RequestsPerWindow < 0 {
		v.fail("api.requests_per_window", "must be positive (the API allows 150 per minute)")
	}
	if c.API.SubmissionsPerWindow == 0 {
		c.API.SubmissionsPerWindow = 20
	} else if c.API.SubmissionsPerWindow < 0 {
		v.fail("api.submissions_per_window", "must be positive (the API allows 20 per minute)")
	}
	if c.API.RequestsPerWindow > 150 || c.API.SubmissionsPerWindow > 20 {
		v.warn("api.requests_per_window", "above the documented limits (150 requests, 20 submissions per minute): expect 429s")
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

	// [[inbox]]
	if len(c.Inboxes) == 0 {
		v.fail("inbox", "no [[inbox]] configured: add one with path and parser_id")
	}
	for i := range c.Inboxes {
		v.inbox(i)
	}
	v.overlaps()
}

func (v *validator) inbox(i int) {
	in := &v.c.Inboxes[i]
	k := func(s string) string { return fmt.Sprintf("inbox[%d].%s", i, s) }
	if in.Path == "" {
		v.fail(k("path"), "required: the folder to watch")
	} else {
		in.Path = v.abs(in.Path)
		st, err := os.Stat(in.Path)
		switch {
		// A missing or unreadable inbox (a share not mounted yet) is a
		// fault of that inbox at run time, reported and retried, not a
		// reason to refuse the whole config.
		case err != nil && errors.Is(err, os.ErrNotExist):
			v.warn(k("path"), "folder %s does not exist (yet): ppsync reports the inbox unhealthy and retries until it appears; create it, mount its share or fix the path", in.Path)
		case err != nil:
			v.warn(k("path"), "cannot read folder %s: %v: ppsync reports the inbox unhealthy and retries; grant the ppsync user access", in.Path, err)
		case !st.IsDir():
			v.fail(k("path"), "%s is a file, not a folder", in.Path)
		}
		if runtime.GOOS == "windows" && isMappedDrive(in.Path) {
			v.warn(k("path"), "%s is on a drive letter; if it is a mapped network drive, a Windows service cannot see it: use a UNC path (\\\\server\\share\\folder)", in.Path)
		}
	}
	if strings.TrimSpace(in.ParserID) == "" {
		v.fail(k("parser_id"), "required: the PerfectParser parser id for this inbox (e.g. \"prs_123\")")
	}
	v.media(i)
	if in.Exclude == nil {
		in.Exclude = DefaultExclude()
	}
	if in.Ledger != "" && within(in.Ledger, in.Path) {
		in.Exclude = append(in.Exclude, filepath.Base(in.Ledger)) // never upload the ledger itself
	}
	v.globs(k("include"), in.Include)
	v.globs(k("exclude"), in.Exclude)
	for _, p := range systemExclude {
		if !slices.ContainsFunc(in.Exclude, func(e string) bool { return strings.EqualFold(e, p) }) {
			in.Exclude = append(in.Exclude, p)
		}
	}
	v.duration(k("settle"), &in.Settle, 2*time.Second, time.Second)
	v.duration(k("incomplete_after"), &in.IncompleteAfter, 10*time.Minute, 0)
	v.duration(k("rescan_interval"), &in.RescanInterval, time.Minute, 5*time.Second)
	if in.IncompleteAfter.Duration < in.Settle.Duration {
		v.fail(k("incomplete_after"), "%s is shorter than settle (%s): files would be declared incomplete before they can settle", in.IncompleteAfter, in.Settle)
	}
	if in.Watch == "" {
		in.Watch = WatchAuto
	}
	if !slices.Contains([]string{WatchAuto, WatchEvents, WatchPoll}, in.Watch) {
		v.fail(k("watch"), "%q: use \"auto\", \"events\" or \"poll\" (poll for network shares)", in.Watch)
	}
	if in.After == "" {
		in.After = "keep"
	}
	switch in.After {
	case "keep":
		if in.ProcessedDir != "" || in.FailedDir != "" {
			v.warn(k("after"), "processed_dir and failed_dir are only used with after = \"move\"")
		}
	case "move":
		if in.ProcessedDir == "" {
			in.ProcessedDir = filepath.Join(in.Path, "processed")
		}
		if in.FailedDir == "" {
			in.FailedDir = filepath.Join(in.Path, "failed")
		}
		in.ProcessedDir = v.abs(in.ProcessedDir)
		in.FailedDir = v.abs(in.FailedDir)
	default:
		v.fail(k("after"), "%q: use \"keep\" or \"move\"", in.After)
	}
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

// overlaps refuses layouts that would loop or process a file twice.
func (v *validator) overlaps() {
	c := v.c
	for i, a := range c.Inboxes {
		if a.Path == "" {
			continue
		}
		if within(c.State.Path, a.Path) {
			v.fail("state.path", "%s is inside inbox %s: keep the state on a local disk outside every inbox", c.State.Path, a.Path)
		}
		for _, d := range []struct{ key, dir string }{{"processed_dir", a.ProcessedDir}, {"failed_dir", a.FailedDir}} {
			if d.dir == "" {
				continue
			}
			if d.dir == a.Path {
				v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "is the inbox itself: files would be processed again and again")
			} else if a.Recursive && within(d.dir, a.Path) {
				v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "%s is inside recursive inbox %s: moved files would be picked up again; put it outside, e.g. %s",
					d.dir, a.Path, a.Path+"-"+strings.TrimSuffix(d.key, "_dir"))
			}
			for j, b := range c.Inboxes {
				if b.Path != "" && (d.dir == b.Path || b.Recursive && within(d.dir, b.Path)) && j != i {
					v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "%s is watched as inbox %s: moved files would be processed again", d.dir, b.Path)
				}
			}
		}
		for j := i + 1; j < len(c.Inboxes); j++ {
			b := c.Inboxes[j]
			if b.Path == "" {
				continue
			}
			if a.Path == b.Path || a.Recursive && within(b.Path, a.Path) || b.Recursive && within(a.Path, b.Path) {
				v.fail(fmt.Sprintf("inbox[%d].path", j), "%s overlaps inbox %s: every file must belong to exactly one inbox", b.Path, a.Path)
			}
		}
	}
}

// within reports whether p is inside dir (not equal).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var driveRe = regexp.MustCompile(`^[A-Za-z]:\\`)

func isMappedDrive(p string) bool {
	return driveRe.MatchString(p) && !strings.HasPrefix(strings.ToUpper(p), `C:\`)
}

// --- API key -----------------------------------------------------------------

// ResolveAPIKey returns the API key from the configured source. getenv is
// os.Getenv in production.
func (c *Config) ResolveAPIKey(getenv func(string) string) (string, error) {
	switch {
	case c.API.APIKey != "":
		return strings.TrimSpace(c.API.APIKey), nil
	case c.API.APIKeyFile != "":
		b, err := os.ReadFile(c.API.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("%s: api.api_key_file: cannot read %s: %v", c.File, c.API.APIKeyFile, errors.Unwrap(err))
		}
		k := strings.TrimSpace(string(b))
		if k == "" {
			return "", fmt.Errorf("%s: api.api_key_file: %s is empty: put the API key from the PerfectParser dashboard in it", c.File, c.API.APIKeyFile)
		}
		return k, nil
	default:
		name := c.API.APIKeyEnv
		if name == "" {
			name = DefaultAPIKeyEnv
		}
		k := strings.TrimSpace(getenv(name))
		if k != "" {
			return k, nil
		}
		if c.API.EnvFile == "" {
			return "", fmt.Errorf("%s: api.api_key_env: environment variable %s is not set: export it, put %s=... in a file \"env\" beside the config (mode 0600), or set api_key_file in [api]", c.File, name, name)
		}
		v, found, err := envFromFile(c.API.EnvFile, name)
		switch {
		case errors.Is(err, os.ErrPermission):
			return "", fmt.Errorf("%s: api.env_file: %s is not set in the environment and %s cannot be read by this user: run the command as root (with sudo), as the service reads it through systemd", c.File, name, c.API.EnvFile)
		case err != nil:
			return "", fmt.Errorf("%s: api.env_file: reading %s: %w", c.File, c.API.EnvFile, err)
		case !found || strings.TrimSpace(v) == "":
			return "", fmt.Errorf("%s: api.api_key_env: %s is set neither in the environment nor in %s: add the line %s=<key from the PerfectParser dashboard> to that file", c.File, name, c.API.EnvFile, name)
		}
		return strings.TrimSpace(v), nil
	}
}

// KeyFileWarning reports an api_key_file or env_file readable by others
// (unix only).
func (c *Config) KeyFileWarning() string {
	if w := secretFileWarning("api_key_file", c.API.APIKeyFile); w != "" {
		return w
	}
	if c.API.APIKeyFile == "" && c.API.APIKey == "" {
		return secretFileWarning("env_file", c.API.EnvFile)
	}
	return ""
}

// --- locating keys -------------------------------------------------------------

// locator finds the line of a dotted key ("api.rate_window",
// "inbox[1].settle" or "inbox.settle") by reading the file's table headers.
type locator struct {
	lines map[string]int
}

var (
	tableRe  = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]`)
	arrayRe  = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]`)
	keyValRe = regexp.MustCompile(`^\s*([A-Za-z0-9_\-]+)\s*=`)
)

func newLocator(data []byte) *locator {
	l := &locator{lines: map[string]int{}}
	counts := map[string]int{}
	table, generic := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	add := func(k string, line int) {
		if _, ok := l.lines[k]; !ok {
			l.lines[k] = line
		}
	}
	for sc.Scan() {
		n++
		s := sc.Text()
		if m := arrayRe.FindStringSubmatch(s); m != nil {
			idx := counts[m[1]]
			counts[m[1]]++
			table = fmt.Sprintf("%s[%d]", m[1], idx)
			generic = m[1]
			add(table, n)
			add(generic, n)
			continue
		}
		if m := tableRe.FindStringSubmatch(s); m != nil {
			table, generic = m[1], m[1]
			add(table, n)
			continue
		}
		if m := keyValRe.FindStringSubmatch(s); m != nil {
			if table == "" {
				add(m[1], n)
			} else {
				add(table+"."+m[1], n)
				add(generic+"."+m[1], n)
			}
		}
	}
	return l
}

func (l *locator) line(key string) int {
	if n, ok := l.lines[key]; ok {
		return n
	}
	// A key with a default is absent from the file: point at its table.
	if i := strings.LastIndex(key, "."); i > 0 {
		return l.line(key[:i])
	}
	return 0
}

// known lists every key, for "did you mean".
var known = []string{
	"api.base_url", "api.api_key_env", "api.api_key_file", "api.api_key", "api.requests_per_window",
	"api.submissions_per_window", "api.rate_window", "api.request_timeout", "state.path", "state.retention",
	"inbox.path", "inbox.parser_id", "inbox.recursive", "inbox.include", "inbox.exclude", "inbox.settle",
	"inbox.incomplete_after", "inbox.watch", "inbox.rescan_interval", "inbox.after", "inbox.processed_dir",
	"inbox.failed_dir", "inbox.types", "inbox.results_dir", "inbox.ledger", "inbox.ledger_separator",
	"inbox.ledger_decimal", "upload.batch_window", "upload.max_batch_files", "upload.max_batch_bytes",
	"upload.max_file_size", "upload.credit_recheck", "poll.interval", "log.level", "log.format", "admin.listen",
	"admin.hosts", "api.env_file",
	"webhook.enabled", "webhook.listen", "webhook.public_url", "webhook.events", "webhook.secret", "webhook.tls_cert",
	"webhook.tls_key", "webhook.poll_interval", "webhook.max_body",
	"admin.upload", "admin.upload_max_size", "admin.auth_password_hash", "admin.auth_token_file", "admin.tls_cert", "admin.tls_key",
}

func suggest(key string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := levenshtein(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		// Right key, wrong table?
		leaf := key[strings.LastIndex(key, ".")+1:]
		for _, k := range known {
			if strings.HasSuffix(k, "."+leaf) {
				return k
			}
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
