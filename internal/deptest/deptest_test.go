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
	watcherRule(mod),
	{From: mod + "/internal/api", Deny: []string{mod + "/internal/state", mod + "/internal/watcher", mod + "/internal/config",
		"go.etcd.io/bbolt", "github.com/fsnotify/fsnotify"}, Why: "the client knows nothing of files, folders, the config or bbolt"},
	{From: mod + "/internal/emulator", Subtree: true, Deny: []string{mod + "/internal/api"}, Why: "the emulator shares only the API's JSON types with the client"},
	// internal/finish is checked once it exists (a rule for a missing package does not apply).
	{From: mod + "/internal/finish", Subtree: true, Deny: []string{mod + "/internal/api"}, Why: "the end of a file's life never calls the API"},
	{From: mod + "/internal/config", Deny: []string{"net/http", mod + "/internal/state", "go.etcd.io/bbolt"}, Why: "config reads one file and touches no network"},
	{From: mod + "/cmd/ppsync", Direct: true, Deny: []string{"go.etcd.io/bbolt", "github.com/fsnotify/fsnotify", "github.com/prometheus/client_golang"},
		Why: "cmd only parses and wires; stages own their libraries"},
	{From: mod + "/cmd/ppsync", Direct: true, Deny: cmdDeny(mod),
		Why: "cmd parses flags and prints; the stages, the files they write, the installation and the service managers are reached through the packages that own them (internal/cli, internal/service)"},
	{From: mod + "/internal/daemon", Direct: true, Deny: daemonDenies,
		Why: "the daemon only wires and supervises: the stages own their sockets, their stores and their libraries"},
	activityRule(mod),
	reconcileRule(mod),
	{From: mod + "/cmd/ppsync", Deny: []string{"github.com/mattn/go-runewidth", "github.com/pdfcpu/pdfcpu/pkg/api"},
		Why: "go-runewidth (brought by pdfcpu's api and form packages) builds a 2.2 MB width table of every Unicode code point when the program starts, at every start of every command: pdfcheck and the emulator call pdfcpu's reader and validator directly"},
}

// activityRule keeps the recorder of module m, which the status page
// reads, off the store: internal/activity/history keeps its history in the
// state.
func activityRule(m string) deptest.Rule {
	return deptest.Rule{From: m + "/internal/activity", Deny: []string{m + "/internal/state", "go.etcd.io/bbolt"},
		Why: "the recent activity is read by the page, which never reaches the store; activity/history keeps it in the state"}
}

// reconcileRule keeps the reconciliation of module m to the state and the
// disk.
func reconcileRule(m string) deptest.Rule {
	return deptest.Rule{From: m + "/internal/reconcile", Deny: []string{m + "/internal/api", "net"},
		Why: "reconciling the state with the inboxes reads the state and the disk, never the API or the network"}
}

// watcherRule keeps the watcher of module m off the store and the config
// file: it takes a watcher.Inbox, which internal/stageopts builds from the
// config.
func watcherRule(m string) deptest.Rule {
	return deptest.Rule{From: m + "/internal/watcher", Deny: []string{m + "/internal/state", "go.etcd.io/bbolt", m + "/internal/config"},
		Why: "the watcher never opens the state, and takes its inbox from internal/stageopts, not the config"}
}

// cmdDeny are the packages of module m that its command imports only
// through others: the pipeline's stages, their store and file formats, the
// API client, the run's progress and heap limit, the installation's
// control, admin client, webhook, notifications, review queue and state
// rebuild (asked through internal/cli), and the libraries of the service
// managers and log files.
func cmdDeny(m string) []string {
	return []string{
		m + "/internal/watcher", m + "/internal/poller", m + "/internal/results", m + "/internal/pdfcheck",
		m + "/internal/filecheck", m + "/internal/lease", m + "/internal/ledger", m + "/internal/samples", m + "/internal/fsinfo",
		m + "/internal/state", m + "/internal/finish", m + "/internal/uploader", m + "/internal/api",
		m + "/internal/progress", m + "/internal/memlimit",
		m + "/internal/control", m + "/internal/control/target", m + "/internal/control/offline", m + "/internal/control/store",
		m + "/internal/admin", m + "/internal/webui", m + "/internal/webhook", m + "/internal/stageopts", m + "/internal/notify",
		m + "/internal/review", m + "/internal/rebuild",
		"go.etcd.io/bbolt", "github.com/kardianos/service", "golang.org/x/sys/windows", "gopkg.in/natefinch/lumberjack.v2",
	}
}

// useRules guard identifiers only some packages may use.
var useRules = []deptest.UseRule{
	{Names: []string{"SeedFile", "SeedDoc", "SeedDeleteFile"}, Allow: []string{mod + "/internal/state", mod + "/internal/control/store/storetest", mod + "/internal/statetest"},
		Why: "only internal/state writes file and document records, through its typed life-cycle operations; the Seed methods are for tests and fixtures (storetest and statetest are the tests' shared fixtures)"},
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
	for _, must := range []string{"/internal/state", "/internal/watcher", "/internal/api", "/internal/emulator", "/cmd/ppsync", "/internal/webui", "/internal/control", "/internal/daemon", "/internal/activity", "/internal/reconcile"} {
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
	const fix = fixMod
	wantChains(t, fixtureViolations(t, controlRules(fix)), []string{
		fix + "/internal/webui -> " + fix + "/internal/control -> " + fix + "/internal/state",
		fix + "/internal/webui -> " + fix + "/internal/control/store -> go.etcd.io/bbolt",
		fix + "/internal/control -> " + fix + "/internal/state",
	})
}

// The watcher's rule catches the watcher importing the config (the
// fixture's watcher keeps away from the state, so that is its only
// violation).
func TestWatcherRuleCatchesAConfigImport(t *testing.T) {
	wantChains(t, fixtureViolations(t, []deptest.Rule{watcherRule(fixMod)}), []string{fixMod + "/internal/watcher -> " + fixMod + "/internal/config"})
}

// The activity and reconcile rules catch the fixture's recorder importing
// the state and its reconciliation calling the API, and let the recorder's
// history subpackage use the state.
func TestActivityAndReconcileRulesCatchTheirViolations(t *testing.T) {
	wantChains(t, fixtureViolations(t, []deptest.Rule{activityRule(fixMod), reconcileRule(fixMod)}), []string{
		fixMod + "/internal/activity -> " + fixMod + "/internal/state",
		fixMod + "/internal/reconcile -> " + fixMod + "/internal/api",
	})
}

func TestCheckerCatchesAViolatingModule(t *testing.T) {
	const fix = fixMod
	wantChains(t, fixtureViolations(t, []deptest.Rule{
		{From: fix + "/internal/state", Deny: []string{"net/http"}, Why: "transitive"},
		{From: fix + "/internal/watcher", Deny: []string{fix + "/internal/state"}, Why: "kept"},
		{From: fix + "/cmd/app", Direct: true, Deny: []string{fix + "/internal/api"}, Why: "only through state, not directly"},
		{From: fix + "/cmd/app", Direct: true, Deny: []string{fix + "/internal/state"}, Why: "direct"},
		{From: fix + "/internal/missing", Deny: []string{"net/http"}, Why: "absent package"},
		{From: fix + "/internal/daemon", Direct: true, Deny: daemonDenies, Why: "wires and supervises only"},
	}), []string{
		fix + "/internal/state -> " + fix + "/internal/api -> net/http",
		fix + "/cmd/app -> " + fix + "/internal/state",
		// The daemon may import a stage (the watcher), not serve HTTP itself.
		fix + "/internal/daemon -> net/http",
	})
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

func TestOnlyStateWritesRecords(t *testing.T) {
	src, err := deptest.LoadSources(context.Background(), moduleRoot(t), "./...")
	if err != nil {
		t.Fatal(err)
	}
	// The rule holds vacuously unless the packages that write records are
	// scanned.
	for _, must := range []string{"/internal/state", "/internal/uploader", "/internal/finish", "/internal/rebuild", "/bench"} {
		if len(src[mod+must]) == 0 {
			t.Fatalf("no source files of %s were scanned", mod+must)
		}
	}
	got, err := deptest.CheckUses(src, useRules)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		t.Error(v)
	}
}

// The command's rule catches a stage imported directly, and only that: a
// stage reached through the package that wires it is fine.
func TestCmdRuleCatchesADirectStageImport(t *testing.T) {
	const fix = fixMod
	var rules []deptest.Rule
	for _, from := range []string{fix + "/cmd/wired", fix + "/cmd/leaky"} {
		rules = append(rules, deptest.Rule{From: from, Direct: true, Deny: cmdDeny(fix), Why: "stages through their owners"})
	}
	wantChains(t, fixtureViolations(t, rules), []string{fix + "/cmd/leaky -> " + fix + "/internal/watcher"})
}

func TestUseCheckerCatchesAViolatingModule(t *testing.T) {
	src, err := deptest.LoadSources(context.Background(), fixtureDir(t), "./...")
	if err != nil {
		t.Fatal(err)
	}
	const fix = fixMod
	got, err := deptest.CheckUses(src, []deptest.UseRule{{Names: []string{"SeedRecord"}, Allow: []string{fix + "/internal/records"}, Why: "fixture"}})
	if err != nil {
		t.Fatal(err)
	}
	// records may use it, test files are not checked: only writer.go's
	// call is a violation.
	if len(got) != 1 {
		t.Fatalf("violations %v, want exactly the one in internal/writer/writer.go", got)
	}
	v := got[0].String()
	for _, part := range []string{filepath.Join("internal", "writer", "writer.go") + ":9:", fix + "/internal/writer", "SeedRecord", fix + "/internal/records", "fixture"} {
		if !strings.Contains(v, part) {
			t.Errorf("violation %q does not name %q", v, part)
		}
	}
}

// fixMod is the module of the fixture in testdata/violating, which breaks
// every rule once.
const fixMod = "example.com/violating"

func fixtureDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "violating"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixtureViolations checks rules against the fixture's import graph and
// returns each violation as text.
func fixtureViolations(t *testing.T, rules []deptest.Rule) []string {
	t.Helper()
	g, err := deptest.Load(context.Background(), fixtureDir(t), "./...")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, v := range deptest.Check(g, rules) {
		lines = append(lines, v.String())
	}
	return lines
}

// wantChains fails unless lines are exactly the import chains of want, in
// order (each line ends with its chain).
func wantChains(t *testing.T, lines, want []string) {
	t.Helper()
	if len(lines) != len(want) {
		t.Fatalf("violations:\n%s\nwant exactly %d: %q", strings.Join(lines, "\n"), len(want), want)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("violation %d = %q, want the chain %q", i, lines[i], w)
		}
	}
}
