package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

func setup(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{"scans", "receipts", "deep/tree"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func parse(t *testing.T, dir, text string) (*config.Config, error) {
	t.Helper()
	return config.Parse(filepath.Join(dir, "ppsync.toml"), []byte(text))
}

const minimal = `
[[inbox]]
path = "scans"
parser_id = "prs_invoice"
`

func TestDefaults(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, minimal)
	if err != nil {
		t.Fatal(err)
	}
	in := c.Inboxes[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"base_url", c.API.BaseURL, "https://api.perfectparser.com"},
		{"api_key_env", c.API.APIKeyEnv, "PP_API_KEY"},
		{"requests", c.API.RequestsPerWindow, 150},
		{"submissions", c.API.SubmissionsPerWindow, 20},
		{"rate_window", c.API.RateWindow.Duration, time.Minute},
		{"state", c.State.Path, filepath.Join(dir, "ppsync-state.db")},
		{"inbox path", in.Path, filepath.Join(dir, "scans")},
		{"include", strings.Join(in.Include, ","), "*.pdf,*.png,*.jpg,*.jpeg,*.webp,*.heic,*.heif,*.avif,*.tif,*.tiff,*.gif,*.bmp"},
		{"types", strings.Join(in.Types, ","), "*.pdf,*.png,*.jpg,*.jpeg,*.webp"},
		{"ledger format", in.LedgerSeparator + in.LedgerDecimal, ",."},
		{"settle", in.Settle.Duration, 2 * time.Second},
		{"incomplete_after", in.IncompleteAfter.Duration, 10 * time.Minute},
		{"rescan", in.RescanInterval.Duration, time.Minute},
		{"watch", in.Watch, "auto"},
		{"after", in.After, "keep"},
		{"batch files", c.Upload.MaxBatchFiles, 50},
		{"max file", c.Upload.MaxFileSize.Bytes, int64(100 << 20)},
		{"poll", c.Poll.Interval.Duration, 5 * time.Second},
		{"log", c.Log.Level + "/" + c.Log.Format, "info/text"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings on defaults: %v", c.Warnings)
	}
}

func TestErrorsNameFileLineKeyAndHint(t *testing.T) {
	dir := setup(t)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "[api]\nrate_windw = \"1m\"\n" + minimal, []string{"ppsync.toml:2", "api.rate_windw", "unknown key", `did you mean "api.rate_window"`}},
		{"unknown key in inbox", minimal + "setle = \"2s\"\n", []string{"ppsync.toml:5", "inbox[0].setle", `"inbox.settle"`}},
		{"unknown table", "[watch]\ninbox = 1\n" + minimal, []string{"ppsync.toml:1", "watch", "unknown table"}},
		{"bare number duration", "[poll]\ninterval = 30\n" + minimal, []string{"ppsync.toml:2", "poll.interval", `"30s"`}},
		{"bad duration", minimal + "settle = \"soon\"\n", []string{"ppsync.toml:5", "not a duration"}},
		{"wrong type", "[api]\nrequests_per_window = \"many\"\n" + minimal, []string{"ppsync.toml:2", "requests_per_window", "whole number", `not a string ("many")`}},
		{"syntax", "[api\n" + minimal, []string{"ppsync.toml:1"}},
		{"negative duration", minimal + "settle = \"-1s\"\n", []string{"ppsync.toml:5", "inbox[0].settle", "positive"}},
		{"zero duration", "[poll]\ninterval = \"0s\"\n" + minimal, []string{"ppsync.toml:2", "poll.interval"}},
		{"no parser", "[[inbox]]\npath = \"scans\"\n", []string{"inbox[0].parser_id", "required"}},
		{"no inbox", "[api]\n", []string{"no [[inbox]]"}},
		{"two key sources", "[api]\napi_key_env = \"A\"\napi_key = \"k\"\n" + minimal, []string{"exactly one of"}},
		{"clear text", "[api]\nbase_url = \"http://api.perfectparser.com\"\n" + minimal, []string{"ppsync.toml:2", "clear text"}},
		{"watch mode", minimal + "watch = \"inotify\"\n", []string{"ppsync.toml:5", `"poll"`}},
		{"after", minimal + "after = \"delete\"\n", []string{"ppsync.toml:5", `"keep" or "move"`}},
		{"state in inbox", "[state]\npath = \"scans/state.db\"\n" + minimal, []string{"state.path", "outside every inbox"}},
		{"processed in recursive inbox", minimal + "recursive = true\nafter = \"move\"\nprocessed_dir = \"scans/done\"\n", []string{"processed_dir", "picked up again"}},
		{"processed is inbox", minimal + "after = \"move\"\nprocessed_dir = \"scans\"\n", []string{"processed_dir", "again and again"}},
		{"processed is other inbox", minimal + "after = \"move\"\nprocessed_dir = \"receipts\"\n[[inbox]]\npath = \"receipts\"\nparser_id = \"p2\"\n", []string{"processed_dir", "watched as inbox"}},
		{"overlapping inboxes", "[[inbox]]\npath = \"deep\"\nparser_id = \"a\"\nrecursive = true\n[[inbox]]\npath = \"deep/tree\"\nparser_id = \"b\"\n", []string{"inbox[1].path", "overlaps"}},
		{"same inbox twice", minimal + minimal, []string{"inbox[1].path", "overlaps"}},
		{"regex not glob", minimal + "exclude = [\"^tmp/.*$\"]\n", []string{"ppsync.toml:5", "inbox[0].exclude", "regular expression"}},
		{"bad glob", minimal + "include = [\"[abc.pdf\"]\n", []string{"ppsync.toml:5", "inbox[0].include", "not a valid glob"}},
		{"backslash glob", minimal + "exclude = ['#recycle\\**']\n", []string{"ppsync.toml:5", "separate folders with /"}},
		{"absolute glob", minimal + "exclude = [\"/tmp/**\"]\n", []string{"ppsync.toml:5", "relative to the inbox"}},
		{"missing env file", "[api]\nenv_file = \"nope.env\"\n" + minimal, []string{"ppsync.toml:2", "api.env_file", "cannot read"}},
		{"bad admin host", "[admin]\nhosts = [\"http://x:1\"]\n" + minimal, []string{"ppsync.toml:2", "admin.hosts", "not a host name"}},
		{"too many files", "[upload]\nmax_batch_files = 80\n" + minimal, []string{"upload.max_batch_files", "at most 50"}},
		{"incomplete shorter than settle", minimal + "settle = \"5s\"\nincomplete_after = \"1s\"\n", []string{"incomplete_after", "shorter than settle"}},
		{"bad size", "[upload]\nmax_file_size = \"lots\"\n" + minimal, []string{"ppsync.toml:2", "not a size"}},
		{"log level", "[log]\nlevel = \"loud\"\n" + minimal, []string{"log.level", "debug, info"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.text)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A share mounted after ppsync starts: the config loads, with a warning
// naming the inbox; the daemon reports and retries it.
func TestMissingInboxWarnsButLoads(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, "[[inbox]]\npath = \"nope\"\nparser_id = \"p\"\n")
	if err != nil {
		t.Fatalf("a missing inbox refused the config: %v", err)
	}
	joined := strings.Join(c.Warnings, "\n")
	for _, w := range []string{"ppsync.toml:2", "inbox[0].path", "does not exist", "retries"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warning %q lacks %q", joined, w)
		}
	}
}

func TestShortTestValuesWarnButLoad(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, "[api]\nrate_window = \"2s\"\n[poll]\ninterval = \"100ms\"\n"+minimal+"settle = \"200ms\"\n")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(c.Warnings, "\n")
	for _, w := range []string{"api.rate_window", "poll.interval", "inbox[0].settle"} {
		if !strings.Contains(joined, w) {
			t.Errorf("no warning for %s in %q", w, joined)
		}
	}
}

func TestMoveDefaultsAndPathsRelativeToConfig(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, "[state]\npath = \"var/state.db\"\n"+minimal+"after = \"move\"\n")
	if err != nil {
		t.Fatal(err)
	}
	in := c.Inboxes[0]
	if in.ProcessedDir != filepath.Join(dir, "scans", "processed") || in.FailedDir != filepath.Join(dir, "scans", "failed") {
		t.Errorf("move dirs = %s, %s", in.ProcessedDir, in.FailedDir)
	}
	if c.State.Path != filepath.Join(dir, "var", "state.db") {
		t.Errorf("state = %s", c.State.Path)
	}
}

func TestResolveAPIKey(t *testing.T) {
	dir := setup(t)
	env := map[string]string{"PP_API_KEY": " pp_live_from_env \n", "OTHER": "pp_live_other"}
	getenv := func(k string) string { return env[k] }

	c, _ := parse(t, dir, minimal)
	if k, err := c.ResolveAPIKey(getenv); err != nil || k != "pp_live_from_env" {
		t.Errorf("default env: %q %v", k, err)
	}
	c, _ = parse(t, dir, "[api]\napi_key_env = \"MISSING\"\n"+minimal)
	if _, err := c.ResolveAPIKey(getenv); err == nil || !strings.Contains(err.Error(), "MISSING") || !strings.Contains(err.Error(), "api_key_file") {
		t.Errorf("missing env: %v", err)
	}
	keyFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(keyFile, []byte("pp_live_from_file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ = parse(t, dir, "[api]\napi_key_file = \"key.txt\"\n"+minimal)
	if k, err := c.ResolveAPIKey(getenv); err != nil || k != "pp_live_from_file" {
		t.Errorf("file: %q %v", k, err)
	}
	if w := c.KeyFileWarning(); !strings.Contains(w, "chmod 600") {
		t.Errorf("world-readable key file not flagged: %q", w)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if w := c.KeyFileWarning(); w != "" {
		t.Errorf("0600 key file flagged: %q", w)
	}
	if err := os.WriteFile(keyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResolveAPIKey(getenv); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	c, _ = parse(t, dir, "[api]\napi_key = \"pp_live_inline\"\n"+minimal)
	if k, _ := c.ResolveAPIKey(getenv); k != "pp_live_inline" || !strings.Contains(strings.Join(c.Warnings, " "), "api_key_env") {
		t.Errorf("inline key: %q, warnings %v", k, c.Warnings)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The example names absolute service paths; point them at a temp tree.
	text := strings.NewReplacer("/srv/scans/invoices", filepath.Join(dir, "invoices"),
		"/var/lib/ppsync/state.db", filepath.Join(dir, "state.db")).Replace(string(b))
	if err := os.MkdirAll(filepath.Join(dir, "invoices"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(filepath.Join(dir, "ppsync.toml"), []byte(text)); err != nil {
		t.Fatalf("config.example.toml does not load:\n%v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(minimal)
	f.Add("[api]\nrate_window = 3\n")
	f.Add("[[inbox]]\npath = 1\n[[inbox]]\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		c, err := config.Parse(filepath.Join(dir, "f.toml"), []byte(s))
		if err == nil && len(c.Inboxes) == 0 {
			t.Fatal("accepted a config without inboxes")
		}
	})
}

func TestPackagedConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../packaging/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.NewReplacer("/srv/ppsync/inbox", filepath.Join(dir, "inbox"),
		"/var/lib/ppsync/state.db", filepath.Join(dir, "state.db")).Replace(string(b))
	if err := os.MkdirAll(filepath.Join(dir, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(filepath.Join(dir, "config.toml"), []byte(text)); err != nil {
		t.Fatalf("packaging/config.toml does not load:\n%v", err)
	}
}
