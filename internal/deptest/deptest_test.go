package deptest_test

import (
	"context"
	"os"
	"path/filepath"
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
	{From: mod + "/internal/daemon", Direct: true, Deny: daemonDenies,
		Why: "the daemon only wires and supervises: the stages own their sockets, their stores and their libraries"},
}

// daemonDenies are what internal/daemon may reach only through a stage: a
// socket or HTTP (the admin endpoint, the webhook receiver, the API
// client), the bbolt file (state), file events (watcher), the ledger's
// spreadsheets (ledger) and the metrics (admin).
var daemonDenies = []string{"net", "go.etcd.io/bbolt", "github.com/fsnotify/fsnotify", "github.com/xuri/excelize/v2",
	"github.com/prometheus/client_golang"}

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
	for _, must := range []string{"/internal/state", "/internal/watcher", "/internal/api", "/internal/emulator", "/cmd/ppsync", "/internal/daemon"} {
		if _, ok := g[mod+must]; !ok {
			t.Fatalf("%s is missing from the import graph: the rules would hold vacuously", mod+must)
		}
	}
	for _, v := range deptest.Check(g, rules) {
		t.Error(v)
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
		{From: fix + "/internal/daemon", Direct: true, Deny: daemonDenies, Why: "wires and supervises only"},
	})
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	want := []string{
		fix + "/internal/state -> " + fix + "/internal/api -> net/http",
		fix + "/cmd/app -> " + fix + "/internal/state",
		// The daemon may import a stage (the watcher), not serve HTTP itself.
		fix + "/internal/daemon -> net/http",
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
