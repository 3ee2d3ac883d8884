package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// install writes a config with one inbox, the admin endpoint off and an
// API key file readable by others (a warning), and returns its path.
func install(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("pp_test_cli\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "[api]\nbase_url = \"http://127.0.0.1:1\"\napi_key_file = \"key\"\n[admin]\nlisten = \"off\"\n" +
		"[state]\npath = \"state.db\"\n[[inbox]]\npath = \"inbox\"\nparser_id = \"prs_invoice\"\n"
	path := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func console() (Console, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Console{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, &out, &errOut
}

// With no daemon (the admin endpoint off) the commands read the state file
// and say so; what needs the daemon names the setting that keeps it off.
func TestConsoleOffline(t *testing.T) {
	path := install(t)
	c, out, errOut := console()
	cfg, err := c.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: ") || !strings.Contains(errOut.String(), "api_key_file") {
		t.Errorf("LoadConfig: stderr %q, want the key file's warning", errOut.String())
	}
	if _, err := c.LoadConfig(filepath.Join(filepath.Dir(path), "missing.toml")); err == nil || !strings.HasPrefix(err.Error(), "invalid configuration:\n") {
		t.Errorf("LoadConfig of a missing file = %v", err)
	}

	out.Reset()
	if err := c.Status(t.Context(), cfg, "", false); err != nil || !strings.Contains(out.String(), "ppsync is not running") || strings.Contains(out.String(), "sign in:") {
		t.Errorf("Status offline = %v, printed %q", err, out.String())
	}
	out.Reset()
	if err := c.Status(t.Context(), cfg, "", true); err != nil || !json.Valid(out.Bytes()) || !strings.Contains(out.String(), `"inboxes"`) {
		t.Errorf("Status --json offline = %v, printed %q", err, out.String())
	}

	err = c.WebhookTest(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), `[admin] listen is "off" in `+path) {
		t.Errorf("WebhookTest with the endpoint off = %v, want it to name the setting and %s", err, path)
	}
	err = c.Review(t.Context(), cfg, ReviewRequest{Action: "list"})
	if err == nil || !strings.Contains(err.Error(), "the admin endpoint is off in "+path) {
		t.Errorf("Review with the endpoint off = %v, want it to name %s", err, path)
	}
	err = c.Reprocess(t.Context(), cfg, []string{filepath.Join(filepath.Dir(path), "inbox", "a.pdf")}, true)
	if exitCode(err) != ExitFailed || !strings.Contains(err.Error(), "does not exist yet") {
		t.Errorf("Reprocess before the first run = %v (exit %d), want exit 1 saying the state does not exist yet", err, exitCode(err))
	}

	out.Reset()
	if err := c.State(t.Context(), cfg, "check"); err != nil || !strings.Contains(out.String(), "not created yet") {
		t.Errorf("State check before the first run = %v, printed %q", err, out.String())
	}
}

func TestConfigShow(t *testing.T) {
	path := install(t)
	for _, tc := range []struct {
		given, asJSON bool
		want          []string
	}{
		{true, false, []string{"# The effective configuration of " + path + " (given with -c): every setting", "parser_id = \"prs_invoice\""}},
		{false, false, []string{"(the default location)"}},
		{false, true, []string{`"file_from": "the default location"`, `"settings": [`}},
	} {
		c, out, _ := console()
		if err := c.ConfigShow(path, tc.given, tc.asJSON); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("ConfigShow(given %v, json %v) printed %q, want %q", tc.given, tc.asJSON, out.String(), w)
			}
		}
	}
}
