package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"github.com/ppsync/ppsync/internal/config"
)

// Every problem of a config is printed, sorted by line, and the command
// exits 2.
func TestBadConfigPrintsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	_ = os.WriteFile(bad, []byte("[api]\nbase_ur = \"x\"\nrequests_per_window = \"lots\"\n[inbox]\npath = \"in\"\n[log]\nlevel = \"loud\"\n"), 0o600)
	code, _, errOut := run(t, nil, "run", "-c", bad, "--once")
	if code != 2 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var at []int
	for _, want := range []string{
		`bad.toml:2: api.base_ur: unknown key (did you mean "api.base_url"?)`,
		`bad.toml:3: api.requests_per_window: must be a whole number, not a string ("lots")`,
		"bad.toml:4: inbox: `[inbox]` must be written `[[inbox]]`",
		`bad.toml:7: log.level: "loud": use debug, info, warn or error`,
	} {
		i := strings.Index(errOut, want)
		if i < 0 {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
		at = append(at, i)
	}
	for i := 1; i < len(at); i++ {
		if at[i] < at[i-1] {
			t.Errorf("problems are not in line order:\n%s", errOut)
		}
	}
}

const (
	testKey     = "pp_live_SECRETKEYVALUE_1234abcd"
	testHookSec = "hook-secret-VALUE-42"
	testSMTPPw  = "hunter2-SMTP-pass"
	testPass    = "admin-PASSWORD-9"
)

// fullConfig writes a config that sets every key (of two alternatives,
// the one that keeps secrets out of the file) and the files it names.
func fullConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"scans", "results", "done", "failed"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"key": testKey + "\n", "env": "PP_NOTIFY_URL=ntfy://x\n", "token": "tok\n",
		"cert.pem": "x", "key.pem": "x", "hook.pem": "x", "hookkey.pem": "x", "url": "https://example.com/hook\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(testPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`[api]
base_url = "http://127.0.0.1:9"
api_key_file = "key"
requests_per_window = 30
submissions_per_window = 5
rate_window = "2m"
request_timeout = "45s"
env_file = "env"

[state]
path = "state.db"
retention = "90d"

[upload]
batch_window = "3s"
max_batch_files = 20
max_batch_bytes = "128MiB"
max_file_size = "10MiB"
credit_recheck = "2m"

[poll]
interval = "7s"

[log]
level = "debug"
format = "json"

[admin]
listen = "127.0.0.1:19999"
hosts = ["ppsync.internal"]
upload = true
upload_max_size = "20MiB"
auth_password_hash = %q
auth_token_file = "token"
public_metrics = true
tls_cert = "cert.pem"
tls_key = "key.pem"

[webhook]
enabled = true
listen = "127.0.0.1:8790"
public_url = "https://hooks.example.com/pp"
events = ["extraction.document_completed", "extraction.job_completed"]
secret = %q
tls_cert = "hook.pem"
tls_key = "hookkey.pem"
poll_interval = "10m"
max_body = "128KiB"

[[notify]]
name = "ops"
url_env = "PP_NOTIFY_URL"
events = ["failures", "digest"]
inbox_down_after = "15m"
api_down_after = "20m"
credits_below = 100
runs_out_days_below = 2.5
repeat = "2h"
resolve_after = "5m"
group_window = "2m"
quiet_hours = "22:00-07:00"
digest_at = "08:00"

[[notify]]
name = "teams"
url_file = "url"

[[inbox]]
path = "scans"
parser_id = "prs_invoice"
recursive = true
include = ["*.pdf", "*.png"]
exclude = ["tmp/**"]
settle = "5s"
incomplete_after = "20m"
watch = "poll"
rescan_interval = "2m"
after = "move"
processed_dir = "done"
failed_dir = "failed"
types = ["*.pdf", "*.png"]
results_dir = "results"
ledger = "ledger.csv"
ledger_separator = ";"
ledger_decimal = ","
max_pages = 50
review_below = 0.9
require = ["invoice_number", "total_amount"]
review_sums = true
sum_tolerance = 0.05
review_duplicates = true
review_in_ledger = true
`, hash, testHookSec)
	p := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test config sets every key the config knows.
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		if k.Table {
			continue
		}
		switch k.Name {
		case "api.api_key", "api.api_key_env", "notify.url":
			continue // the alternatives of api_key_file and url_env/url_file
		}
		idx := strings.Replace(strings.Replace(k.Name, "inbox.", "inbox[0].", 1), "notify.", "notify[0].", 1)
		_, ok := c.Line(idx)
		if _, ok1 := c.Line(strings.Replace(idx, "notify[0]", "notify[1]", 1)); !ok && !ok1 {
			t.Errorf("the full config does not set %s", idx)
		}
	}
	return p
}

func noSecrets(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

// config show prints every setting as TOML that ppsync reads back to the
// same effective configuration, with each value's source, secrets masked.
func TestConfigShowRoundTrip(t *testing.T) {
	p := fullConfig(t)
	code, out, errOut := run(t, nil, "config", "show", "-c", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	orig, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	hash := orig.Admin.AuthPasswordHash
	noSecrets(t, "config show", out, testKey, testHookSec, hash, testPass, "ntfy://x", "https://example.com/hook")
	for _, want := range []string{
		"[api]\n", "[[inbox]]\n", "[[notify]]\n",
		"rate_window = \"2m\"  # " + p + ":6\n",
		"interval = \"7s\"  # " + p + ":22\n",
		"# auth_password_hash = \"(set)\"  # masked; from " + p + ":33\n",
		"# secret = \"(set)\"  # masked; from " + p,
		"# api_key = \"(set, ends in abcd)\"  # masked; from api_key_file = " + filepath.Join(filepath.Dir(p), "key"),
		"max_pages = 50  # ", "runs_out_days_below = 2.5  # ",
		"# url = \"(set)\"  # masked; from the line PP_NOTIFY_URL= of " + filepath.Join(filepath.Dir(p), "env") + "\n",
		"# url = \"(set)\"  # masked; from url_file " + filepath.Join(filepath.Dir(p), "url") + "\n",
		"# name = \"teams\"", // not true: replaced below
	} {
		if want == "# name = \"teams\"" {
			want = "name = \"teams\"  # " + p
		}
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	back := filepath.Join(filepath.Dir(p), "shown.toml")
	if err := os.WriteFile(back, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := config.Load(back)
	if err != nil {
		t.Fatalf("ppsync does not read its own config show back: %v\n%s", err, out)
	}
	a, b := orig.Effective(func(string) string { return "" }), again.Effective(func(string) string { return "" })
	if len(a) != len(b) {
		t.Fatalf("%d settings, %d read back", len(a), len(b))
	}
	compared := 0
	for i := range a {
		if a[i].Key != b[i].Key {
			t.Fatalf("setting %d: %s read back as %s", i, a[i].Key, b[i].Key)
		}
		if a[i].Masked != "" || b[i].Masked != "" {
			continue // the secrets are commented out
		}
		if fmt.Sprint(a[i].Value) != fmt.Sprint(b[i].Value) || a[i].Empty != b[i].Empty {
			t.Errorf("%s = %v, read back as %v", a[i].Key, a[i].Value, b[i].Value)
		}
		compared++
	}
	if compared < 60 {
		t.Errorf("only %d settings compared", compared)
	}

	code, out, errOut = run(t, nil, "config", "show", "-c", p, "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	noSecrets(t, "config show --json", out, testKey, testHookSec, hash)
	var doc struct {
		File     string
		Settings []config.Setting
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.File != p || len(doc.Settings) != len(a) {
		t.Fatalf("--json: %v %q %d settings\n%s", err, doc.File, len(doc.Settings), out)
	}
	for _, s := range doc.Settings {
		if s.Key == "poll.interval" && (s.Value != "7s" || s.Source != p+":22") {
			t.Errorf("--json poll.interval = %+v", s)
		}
		if s.Key == "upload.credit_recheck" && s.Source != p+":19" {
			t.Errorf("--json upload.credit_recheck = %+v", s)
		}
	}
}

// Secrets written in the file (the key, a password in a notify URL, a
// webhook secret) never show; defaults and the environment are named.
func TestConfigShowMasksSecretsAndNamesSources(t *testing.T) {
	dir := t.TempDir()
	_ = os.Mkdir(filepath.Join(dir, "scans"), 0o755)
	p := filepath.Join(dir, "ppsync.toml")
	smtp := "smtp://ops:" + testSMTPPw + "@mail.example.com:587/?from=a@example.com&to=b@example.com"
	teams := "https://example.webhook.office.com/webhookb2/abc/IncomingWebhook/TOKEN-teams-123/def"
	text := fmt.Sprintf("[api]\napi_key = %q\n[webhook]\nsecret = %q\n[[notify]]\nurl = %q\n[[notify]]\nurl = %q\n[[inbox]]\npath = \"scans\"\nparser_id = \"p\"\n",
		testKey, testHookSec, smtp, teams)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"config", "show", "-c", p}, {"config", "show", "-c", p, "--json"}} {
		code, out, errOut := run(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		noSecrets(t, strings.Join(args, " "), out, testKey, testHookSec, testSMTPPw, "TOKEN-teams-123", "SECRETKEY")
		if !strings.Contains(out, p+":2") {
			t.Errorf("%v: the key's line is not named:\n%s", args, out)
		}
		if len(args) == 4 {
			if _, err := toml.Decode(out, new(map[string]any)); err != nil {
				t.Errorf("not TOML: %v\n%s", err, out)
			}
			for _, want := range []string{"interval = \"5s\"  # default\n", "# api_key = \"(set, ends in abcd)\"  # masked; from " + p + ":2"} {
				if !strings.Contains(out, want) {
					t.Errorf("lacks %q:\n%s", want, out)
				}
			}
		}
	}
	// The key from the environment: its variable is named, the key is not shown.
	_ = os.WriteFile(p, []byte("[[inbox]]\npath = \"scans\"\nparser_id = \"p\"\n"), 0o600)
	code, out, _ := run(t, map[string]string{"PP_API_KEY": testKey}, "config", "show", "-c", p)
	if code != 0 || !strings.Contains(out, "# api_key = \"(set, ends in abcd)\"  # masked; from environment variable PP_API_KEY") {
		t.Errorf("key from the environment: %d\n%s", code, out)
	}
	noSecrets(t, "config show", out, testKey)
}

// A refused key: the error names where the key came from and what to do,
// never the key.
func TestRefusedKeyNamesItsSource(t *testing.T) {
	const wrong = "pp_live_WRONG_key_5678"
	cfg, _ := setup(t, nil)
	dir := filepath.Dir(cfg)
	text, _ := os.ReadFile(cfg)
	with := func(t *testing.T, line string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "ppsync.toml")
		s := strings.Replace(string(text), `api_key_env = "TEST_PP_KEY"`, line, 1)
		s = strings.Replace(s, `path = "inbox"`, fmt.Sprintf("path = %q", filepath.Join(dir, "inbox")), 1)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	_ = os.WriteFile(keyFile, []byte(wrong), 0o600)
	envDir := t.TempDir()
	envFile := filepath.Join(envDir, "env")
	_ = os.WriteFile(envFile, []byte("TEST_PP_KEY="+wrong+"\n"), 0o600)
	for _, tc := range []struct {
		name, line string
		env        map[string]string
		want       []string
	}{
		{"environment", `api_key_env = "TEST_PP_KEY"`, map[string]string{"TEST_PP_KEY": wrong},
			[]string{"the key comes from environment variable TEST_PP_KEY (named by api_key_env at ", "ppsync.toml:3)", "set TEST_PP_KEY to a valid key"}},
		{"key file", fmt.Sprintf("api_key_file = %q", keyFile), nil,
			[]string{"the key comes from api_key_file = " + keyFile, "put a valid key from the PerfectParser dashboard", "in " + keyFile}},
		{"in the config", fmt.Sprintf("api_key = %q", wrong), nil,
			[]string{"the key comes from api_key at ", "ppsync.toml:3", "replace api_key at"}},
		{"env file", fmt.Sprintf("api_key_env = \"TEST_PP_KEY\"\nenv_file = %q", envFile), nil,
			[]string{"the key comes from the line TEST_PP_KEY= of " + envFile, "replace the line TEST_PP_KEY=... in " + envFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := with(t, tc.line)
			code, out, errOut := run(t, tc.env, "run", "-c", p, "--once")
			if code != 2 {
				t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("run: stderr lacks %q:\n%s", w, errOut)
				}
			}
			noSecrets(t, "run", out+errOut, wrong)
			code, out, errOut = run(t, tc.env, "check", "-c", p)
			if code != 1 || !strings.Contains(out, tc.want[0]) {
				t.Errorf("check: exit %d, lacks %q:\n%s\n%s", code, tc.want[0], out, errOut)
			}
			noSecrets(t, "check", out+errOut, wrong)
		})
	}
}
