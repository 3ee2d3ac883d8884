package diagnose_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/diagnose"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/state"
)

const key = "pp_test_diagnose"

// setup writes a config against an in-process emulator and returns its path.
func setup(t *testing.T, parser, extra string) string {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{key}, RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ppsync.toml")
	text := fmt.Sprintf("[api]\nbase_url = %q\nrate_window = \"1s\"\n%s[state]\npath = \"var/state.db\"\n[[inbox]]\npath = \"inbox\"\nparser_id = %q\n", srv.URL, extra, parser)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func find(t *testing.T, r diagnose.Result, prefix string) diagnose.Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.What, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, r.Checks)
	return diagnose.Check{}
}

func TestGoodConfigPassesWithoutCreatingTheState(t *testing.T) {
	file := setup(t, "prs_invoice", "")
	r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key})})
	if r.Problems() != 0 {
		t.Fatalf("problems: %+v", r.Checks)
	}
	if c := find(t, r, "state "); !strings.Contains(c.Result, "not created yet") {
		t.Fatalf("state check: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(file), "var")); !os.IsNotExist(err) {
		t.Fatalf("check created the state or its folder: %v", err)
	}
	var out bytes.Buffer
	r.Write(&out)
	if !strings.Contains(out.String(), "all checks passed") {
		t.Fatalf("output: %s", out.String())
	}
}

func TestKeyFromTheServiceEnvFile(t *testing.T) {
	file := setup(t, "prs_invoice", "")
	envFile := filepath.Join(filepath.Dir(file), "env")
	if err := os.WriteFile(envFile, []byte("PP_API_KEY="+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(nil)})
	if c := find(t, r, "api key"); !c.OK || !strings.Contains(c.Result, "accepted") {
		t.Fatalf("the key in the env file beside the config was not used: %+v", r.Checks)
	}
}

func TestProblemsCarryFixes(t *testing.T) {
	file := setup(t, "prs_unconfigured", "")
	r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key})})
	if c := find(t, r, "parser prs_unconfigured"); c.OK || !strings.Contains(c.Fix, "detect-fields") {
		t.Fatalf("unconfigured parser: %+v", c)
	}
	r = diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": "pp_live_wrong_000"})})
	var out bytes.Buffer
	r.Write(&out)
	if r.Problems() == 0 || !strings.Contains(out.String(), "UNAUTHORIZED") || strings.Contains(out.String(), "pp_live_wrong_000") ||
		!strings.Contains(out.String(), "how to fix") {
		t.Fatalf("bad key: %s", out.String())
	}
	r = diagnose.Run(context.Background(), filepath.Join(t.TempDir(), "missing.toml"), diagnose.Options{Getenv: env(nil)})
	if r.Problems() != 1 || !strings.Contains(r.Checks[0].Result, "does not exist") {
		t.Fatalf("missing config: %+v", r.Checks)
	}
}

func TestStateHeldOrDamaged(t *testing.T) {
	file := setup(t, "prs_invoice", "")
	statePath := filepath.Join(filepath.Dir(file), "var", "state.db")
	st, err := state.Open(statePath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key})})
	st.Close()
	if c := find(t, r, "state "); !c.OK || !strings.Contains(c.Result, "running ppsync") {
		t.Fatalf("held state: %+v", c)
	}
	r = diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key})})
	if c := find(t, r, "state "); !c.OK || !strings.Contains(c.Result, "consistent") {
		t.Fatalf("good state: %+v", c)
	}
	if err := os.WriteFile(statePath, bytes.Repeat([]byte{0xff}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	r = diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key})})
	if c := find(t, r, "state "); c.OK || !strings.Contains(c.Result, "state rebuild") {
		t.Fatalf("damaged state: %+v", c)
	}
}

// Another instance's config on the same host that keeps its state in the
// same file, or serves its page on the same address, is a problem check
// names; distinct configs pass.
func TestOtherConfigsOnTheHost(t *testing.T) {
	file := setup(t, "prs_invoice", "[admin]\nlisten = \"127.0.0.1:18471\"\n")
	state := filepath.Join(filepath.Dir(file), "var", "state.db")
	other := func(body string) string {
		p := filepath.Join(t.TempDir(), "other.toml")
		if err := os.WriteFile(p, []byte(body+"[[inbox]]\npath = \"in\"\nparser_id = \"prs_invoice\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		body string
		ok   bool
		has  string
	}{
		{"distinct", "[state]\npath = \"own.db\"\n[admin]\nlisten = \"127.0.0.1:18472\"\n", true, "no shared state file or admin address"},
		{"same state", fmt.Sprintf("[state]\npath = %q\n[admin]\nlisten = \"127.0.0.1:18472\"\n", state), false, "both keep their state in " + state},
		{"same admin address", "[state]\npath = \"own.db\"\n[admin]\nlisten = \"127.0.0.1:18471\"\n", false, `both set [admin] listen = "127.0.0.1:18471"`},
	} {
		o := other(c.body)
		r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key}), UnitFile: "none",
			OtherConfigs: []string{file, o}})
		got := find(t, r, "other configs")
		if got.OK != c.ok || !strings.Contains(got.Result, c.has) {
			t.Errorf("%s: %+v, want ok=%v and %q", c.name, got, c.ok, c.has)
		}
		if !c.ok && got.Fix == "" {
			t.Errorf("%s: a problem without a fix: %+v", c.name, got)
		}
	}
	// The config itself among the others is no conflict, and no others no line.
	r := diagnose.Run(context.Background(), file, diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key}), UnitFile: "none", OtherConfigs: []string{file}})
	for _, c := range r.Checks {
		if strings.HasPrefix(c.What, "other configs") {
			t.Errorf("the config alone: %+v", c)
		}
	}
}
