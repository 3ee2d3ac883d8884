// Package config turns ppsync's TOML file into a typed, validated Config.
// It reads the file (and an api_key_file) and stats the paths it names;
// it never touches the network.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
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

	// Notify are the [[notify]] targets (notify.go).
	Notify []Notify `toml:"notify"`

	// File is the absolute path the config was read from.
	File string `toml:"-"`
	// Warnings are accepted but unusual values (tiny test durations, say).
	Warnings []string `toml:"-"`
	// lines are the file's line of every key it sets ("inbox[0].settle").
	lines map[string]int
}

// Line returns the line of the file that sets key ("api.rate_window",
// "inbox[1].settle"), and false when the file leaves it to its default.
func (c *Config) Line(key string) (int, bool) {
	n, ok := c.lines[key]
	return n, ok
}

// API is [api].
type API struct {
	BaseURL              string   `toml:"base_url"`
	APIKeyEnv            string   `toml:"api_key_env"`
	APIKeyFile           string   `toml:"api_key_file"`
	APIKey               string   `toml:"api_key" ppsync:"secret"`
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
	// MaxPages is the most pages a PDF may have to be uploaded (each page
	// costs a credit); a larger one gets a TOO_MANY_PAGES error file.
	MaxPages int `toml:"max_pages"`
	// Review holds results for a person to check (see docs/review.md).
	ReviewBelow      float64  `toml:"review_below"`
	Require          []string `toml:"require"`
	ReviewSums       bool     `toml:"review_sums"`
	SumTolerance     float64  `toml:"sum_tolerance"`
	ReviewDuplicates bool     `toml:"review_duplicates"`
	ReviewInLedger   bool     `toml:"review_in_ledger"`
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
	AuthPasswordHash string `toml:"auth_password_hash" ppsync:"secret"`
	// AuthTokenFile holds a bearer token (first line).
	AuthTokenFile string `toml:"auth_token_file"`
	// PublicMetrics serves /metrics without credentials (for a scraper
	// that cannot send a token).
	PublicMetrics bool `toml:"public_metrics"`
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
	Secret  string `toml:"secret" ppsync:"secret"`
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
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if strings.Contains(pe.Message, `'\n'`) && line > 1 {
				line-- // the parser counts the newline that ended the bad line as the next line
			}
			return nil, Errors{{File: file, Line: line, Key: pe.LastKey, Msg: strings.TrimPrefix(pe.Message, "toml: ")}}
		}
		return nil, Errors{{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}}
	}
	var c Config
	loc := newLocator(data)
	// Every problem is collected in one pass: the keys of the wrong type or
	// unknown, then what validation finds in the rest.
	d := decoder{file: file, loc: loc, bad: map[string]bool{}}
	d.table(reflect.ValueOf(&c).Elem(), raw, "")
	c.File = file
	c.lines = loc.lines
	v := validator{c: &c, file: file, loc: loc, dir: filepath.Dir(file), bad: d.bad}
	v.run()
	errs := append(d.errs, v.errs...)
	if len(errs) > 0 {
		// By line; problems without a line (a missing table) come last.
		order := func(e *Error) int {
			if e.Line <= 0 {
				return math.MaxInt
			}
			return e.Line
		}
		slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Compare(order(a), order(b)) })
		return nil, errs
	}
	return &c, nil
}
