package deptest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/deptest"
)

const mod = "github.com/ppsync/ppsync"

// rules are ppsync's layering, as design.md draws it.
var rules = []deptest.Rule{
	{From: mod + "/internal/state", Deny: []string{"net/http"}, Why: "the store knows nothing of the network"},
	{From: mod + "/internal/watcher", Deny: []string{mod + "/internal/state", "go.etcd.io/bbolt"}, Why: "the watcher never opens the state"},
	{From: mod + "/internal/api", Deny: []string{mod + "/internal/state", mod + "/internal/watcher", mod + "/internal/config",
		"go.etcd.io/bbolt", "github.com/fsnotify/fsnotify"}, Why: "the client knows nothing of files, folders, the config or bbolt"},
	{From: mod + "/internal/emulator", Subtree: true, Deny: []string{mod + "/internal/api"}, Why: "the emulator shares only the API's JSON types with the client"},
	// internal/finish is checked once it exists (a rule for a missing package does not apply).
	{From: mod + "/internal/finish", Subtree: true, Deny: []string{mod + "/internal/api"}, Why: "the end of a file's life never calls the API"},
	{From: mod + "/internal/config", Deny: []string{"net/http", mod + "/internal/state", "go.etcd.io/bbolt"}, Why: "config reads one file and touches no network"},
	{From: mod + "/cmd/ppsync", Direct: true, Deny: []string{"go.etcd.io/bbolt", "github.com/fsnotify/fsnotify", "github.com/prometheus/client_golang"},
		Why: "cmd only parses and wires; stages own their libraries"},
}

// controlRules keep the status page and the control interface off the
// store, for the module m (the project's, or the fixture's).
func controlRules(m string) []deptest.Rule {
	return []deptest.Rule{
		{From: m + "/internal/webui", Deny: []string{m + "/internal/state", "go.etcd.io/bbolt"},
			Why: "the status page reads through internal/control, never the state store"},
		{From: m + "/internal/control", Deny: []string{m + "/internal/state", "go.etcd.io/bbolt"},
			Why: "the control interface knows nothing of the store (control/store and control/offline read it)"},
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func TestLayering(t *testing.T) {
	g, err := deptest.Load(context.Background(), moduleRoot(t), "./...")
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"/internal/state", "/internal/watcher", "/internal/api", "/internal/emulator", "/cmd/ppsync", "/internal/webui", "/internal/control"} {
		if _, ok := g[mod+must]; !ok {
			t.Fatalf("%s is missing from the import graph: the rules would hold vacuously", mod+must)
		}
	}
	for _, v := range deptest.Check(g, append(slices.Clone(rules), controlRules(mod)...)) {
		t.Error(v)
	}
}

// Each of controlRules fails on a fixture that breaks it: the page reaching
// the state through control and bbolt through control/store, and control
// importing the state.
func TestControlRulesCatchTheirViolations(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "violating"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := deptest.Load(context.Background(), dir, "./...")
	if err != nil {
		t.Fatal(err)
	}
	const fix = "example.com/violating"
	var lines []string
	for _, v := range deptest.Check(g, controlRules(fix)) {
		lines = append(lines, v.String())
	}
	want := []string{
		fix + "/internal/webui -> " + fix + "/internal/control -> " + fix + "/internal/state",
		fix + "/internal/webui -> " + fix + "/internal/control/store -> go.etcd.io/bbolt",
		fix + "/internal/control -> " + fix + "/internal/state",
	}
	if len(lines) != len(want) {
		t.Fatalf("violations:\n%s\nwant exactly %d", strings.Join(lines, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("violation %d = %q, want the chain %q", i, lines[i], w)
		}
	}
}

func TestCheckerCatchesAViolatingModule(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "violating"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := deptest.Load(context.Background(), dir, "./...")
	if err != nil {
		t.Fatal(err)
	}
	const fix = "example.com/violating"
	got := deptest.Check(g, []deptest.Rule{
		{From: fix + "/internal/state", Deny: []string{"net/http"}, Why: "transitive"},
		{From: fix + "/internal/watcher", Deny: []string{fix + "/internal/state"}, Why: "kept"},
		{From: fix + "/cmd/app", Direct: true, Deny: []string{fix + "/internal/api"}, Why: "only through state, not directly"},
		{From: fix + "/cmd/app", Direct: true, Deny: []string{fix + "/internal/state"}, Why: "direct"},
		{From: fix + "/internal/missing", Deny: []string{"net/http"}, Why: "absent package"},
	})
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	want := []string{
		fix + "/internal/state -> " + fix + "/internal/api -> net/http",
		fix + "/cmd/app -> " + fix + "/internal/state",
	}
	if len(got) != len(want) {
		t.Fatalf("violations:\n%s\nwant exactly %d", strings.Join(lines, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("violation %d = %q, want the chain %q", i, lines[i], w)
		}
	}
}

func TestCheckCoversSubpackagesOfADeniedModule(t *testing.T) {
	g := deptest.Graph{"a": {"b"}, "b": {"go.etcd.io/bbolt/errors"}, "go.etcd.io/bbolt/errors": nil}
	if v := deptest.Check(g, []deptest.Rule{{From: "a", Deny: []string{"go.etcd.io/bbolt"}}}); len(v) != 1 {
		t.Fatalf("a -> b -> bbolt/errors not caught: %v", v)
	}
	if v := deptest.Check(g, []deptest.Rule{{From: "a", Direct: true, Deny: []string{"go.etcd.io/bbolt"}}}); len(v) != 0 {
		t.Fatalf("a direct-only rule followed an indirect import: %v", v)
	}
}
