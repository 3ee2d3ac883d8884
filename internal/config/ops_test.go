package config_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
)

func TestEnvFileBesideConfigGivesTheKey(t *testing.T) {
	dir := setup(t)
	none := func(string) string { return "" }
	c, err := parse(t, dir, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResolveAPIKey(none); err == nil || !strings.Contains(err.Error(), `file "env" beside the config`) {
		t.Fatalf("no key anywhere: %v", err)
	}
	env := filepath.Join(dir, "env")
	if err := os.WriteFile(env, []byte("# the service's environment\nOTHER=x\nexport PP_API_KEY=\"pp_live_from_env_file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = parse(t, dir, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if c.API.EnvFile != env {
		t.Fatalf("env_file = %q, want the file beside the config", c.API.EnvFile)
	}
	if k, err := c.ResolveAPIKey(none); err != nil || k != "pp_live_from_env_file" {
		t.Fatalf("key from env file: %q %v", k, err)
	}
	if k, _ := c.ResolveAPIKey(func(string) string { return "pp_live_process" }); k != "pp_live_process" {
		t.Fatalf("the environment must win over the file, got %q", k)
	}
	if w := c.KeyFileWarning(); w != "" {
		t.Errorf("0600 env file flagged: %q", w)
	}
	if err := os.Chmod(env, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := c.KeyFileWarning(); !strings.Contains(w, "env_file") || !strings.Contains(w, "chmod 600") {
		t.Errorf("readable env file not flagged: %q", w)
	}
	if err := os.WriteFile(env, []byte("OTHER=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResolveAPIKey(none); err == nil || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), "PP_API_KEY=") {
		t.Fatalf("env file without the key: %v", err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(env, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ResolveAPIKey(none); err == nil || !strings.Contains(err.Error(), "sudo") {
			t.Fatalf("unreadable env file: %v", err)
		}
	}
}

func TestDefaultAdminListenIsPerStateFile(t *testing.T) {
	dir := setup(t)
	a, err := parse(t, dir, "[state]\npath = \"a.db\"\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parse(t, dir, "[state]\npath = \"b.db\"\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	if a.Admin.Listen == b.Admin.Listen {
		t.Fatalf("two state files share the admin address %s", a.Admin.Listen)
	}
	for _, c := range []*config.Config{a, b} {
		host, port, err := net.SplitHostPort(c.Admin.Listen)
		n, _ := strconv.Atoi(port)
		if err != nil || host != "127.0.0.1" || n < config.AdminPortBase || n >= config.AdminPortBase+config.AdminPortRange {
			t.Errorf("admin listen %q is not a loopback port in the fixed range", c.Admin.Listen)
		}
		if c.Admin.Listen != config.AdminListenFor(c.State.Path) {
			t.Errorf("the CLI would compute %s, the config says %s", config.AdminListenFor(c.State.Path), c.Admin.Listen)
		}
	}
	c, err := parse(t, dir, "[admin]\nlisten = \"127.0.0.1:9847\"\nhosts = [\"ppsync.internal\"]\n"+minimal)
	if err != nil || c.Admin.Listen != "127.0.0.1:9847" || !slices.Equal(c.Admin.Hosts, []string{"ppsync.internal"}) {
		t.Fatalf("explicit admin settings: %v %+v", err, c)
	}
}

func TestSystemFoldersAreExcludedEvenWithOwnExcludes(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, minimal+"recursive = true\nexclude = [\"*.bak\", \"#recycle/**\", \"archive/**/old-*.pdf\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	ex := c.Inboxes[0].Exclude
	for _, want := range []string{"*.bak", "#recycle/**", "#recycle", "@eaDir", "$RECYCLE.BIN", ".snapshot", ".Trash-*"} {
		if !slices.Contains(ex, want) {
			t.Errorf("exclude lacks %q: %q", want, ex)
		}
	}
}
