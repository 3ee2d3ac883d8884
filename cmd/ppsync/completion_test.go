package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/completion"
)

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := run(t, nil, "completion", shell)
	if code != 0 || out == "" {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errOut)
	}
	return out
}

// Every command of the table, every subcommand and every flag is in every
// script: they are generated from the table and the commands' own flags.
func TestCompletionCoversTheCommandTable(t *testing.T) {
	m := &Main{}
	spec := m.completionSpec()
	for _, shell := range completion.Shells() {
		script := completionScript(t, shell)
		for _, c := range m.commands() {
			// Each shell's own way of offering a command.
			want := map[string]string{"bash": "\n    " + c.name + ")\n", "zsh": "'" + c.name + ":",
				"fish": " -a " + c.name + " -d ", "powershell": "'" + c.name + "' = '"}[shell]
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks command %q (%q)", shell, c.name, want)
			}
		}
		for _, c := range spec {
			for _, s := range c.Subs {
				if !strings.Contains(script, s.Name) {
					t.Errorf("%s script lacks %s %s", shell, c.Name, s.Name)
				}
			}
			for _, f := range c.Flags {
				want := f.Spelling()
				if shell == "fish" {
					want = "-l " + f.Name
					if len(f.Name) == 1 {
						want = "-s " + f.Name
					}
				}
				if !strings.Contains(script, want) {
					t.Errorf("%s script lacks %s's flag %s", shell, c.Name, want)
				}
			}
		}
	}
	// The spec itself found what the commands define.
	find := func(name string) completion.Cmd {
		for _, c := range spec {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no %s in the spec", name)
		return completion.Cmd{}
	}
	if names := completion.Names(find("state").Subs); strings.Join(names, " ") != "check rebuild compact" {
		t.Errorf("state subcommands = %v", names)
	}
	if fl := completion.FlagWords(find("run").Flags); !strings.Contains(fl, "--once") || !strings.Contains(fl, "-c") {
		t.Errorf("run flags = %s", fl)
	}
	if fl := completion.FlagWords(find("emulator").Flags); !strings.Contains(fl, "--rate-window") {
		t.Errorf("emulator flags = %s", fl)
	}
	if code, _, errOut := run(t, nil, "completion", "tcsh"); code != 2 || !strings.Contains(errOut, "bash, zsh, fish, powershell") {
		t.Errorf("completion tcsh: %d %s", code, errOut)
	}
}

func TestCompletionScriptsParse(t *testing.T) {
	for _, tc := range []struct{ shell, bin string }{{"bash", "bash"}, {"zsh", "zsh"}, {"fish", "fish"}} {
		t.Run(tc.shell, func(t *testing.T) {
			bin, err := exec.LookPath(tc.bin)
			if err != nil {
				t.Skipf("SKIPPED: %s is not installed (apt-get install %s), its script is not syntax-checked", tc.bin, tc.bin)
			}
			f := filepath.Join(t.TempDir(), "ppsync."+tc.shell)
			if err := os.WriteFile(f, []byte(completionScript(t, tc.shell)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", tc.bin, err, out)
			}
		})
	}
}

// The bash script completes what a user types.
func TestBashCompletionCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("SKIPPED: bash is not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "ppsync.bash")
	if err := os.WriteFile(script, []byte(completionScript(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "office.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string // the words typed; the last is completed
		want []string
		not  []string
	}{
		{"ppsync st", []string{"status", "start", "state", "stop"}, []string{"run"}},
		{"ppsync state c", []string{"check", "compact"}, []string{"rebuild"}},
		{"ppsync state compact -", []string{"-c"}, []string{"--once"}},
		{"ppsync run --o", []string{"--once"}, nil},
		{"ppsync run -c off", []string{"office.toml"}, nil},
		{"ppsync -c x.toml st", []string{"status", "state"}, nil},
		{"ppsync completion ", []string{"bash", "zsh", "fish", "powershell"}, nil},
		{"ppsync help sta", []string{"status", "start", "state"}, nil},
		{"ppsync emulator --rate", []string{"--rate-window"}, nil},
		{"ppsync config ", []string{"show"}, nil},
		{"ppsync config show --j", []string{"--json"}, nil},
	} {
		words := strings.Split(tc.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c",
			"source "+script+"; COMP_WORDS=("+strings.Join(quoted, " ")+"); COMP_CWORD="+
				strconv.Itoa(len(words)-1)+"; _ppsync; printf '%s\\n' \"${COMPREPLY[@]}\"")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q completes to %v, lacks %s", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%q completes to %v, should not offer %s", tc.line, got, w)
			}
		}
	}
}

// 'ppsync emulator --help' shows the emulator's control endpoints and
// parsers (internal/emulator's tests keep that text in step with the routes).
func TestEmulatorHelpShowsControlEndpoints(t *testing.T) {
	code, _, errOut := run(t, nil, "emulator", "--help")
	for _, want := range []string{"GET  /_emulator/stats", "POST /_emulator/credits", "prs_invoice", "prs_unconfigured", "--rate-window", "--clock-skew", "mangle-names"} {
		if code != 0 || !strings.Contains(errOut, want) {
			t.Errorf("emulator --help (exit %d) lacks %q", code, want)
		}
	}
}

// Every command's line in 'ppsync help' keeps two spaces between its name
// and its summary, where the man page's generator splits it: the longest
// name ("completion") included.
func TestHelpListsEveryCommandForTheManPage(t *testing.T) {
	_, out, _ := run(t, nil, "help")
	line := regexp.MustCompile(`(?m)^ {2,}([a-z][a-z0-9-]*) {2,}\S`)
	found := map[string]bool{}
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		found[m[1]] = true
	}
	for _, c := range (&Main{}).commands() {
		if !found[c.name] {
			t.Errorf("'ppsync help' has no line '  %s  SUMMARY':\n%s", c.name, out)
		}
	}
}
