package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
)

const mainHelp = `ppsync turns a folder into a PerfectParser pipeline: every PDF dropped into an inbox
gets its extracted data as <file>.json beside it.

Usage: ppsync <command> [flags]

Commands:
  run        watch the inboxes
  start      start the service
  help       show this help

Run 'ppsync <command> --help' for a command's flags.
`

func fakeHelp(cmds map[string]string) func(...string) (string, error) {
	return func(args ...string) (string, error) {
		if len(args) == 0 {
			return mainHelp, nil
		}
		if h, ok := cmds[args[0]]; ok {
			return h, nil
		}
		return "", errors.New("no command " + args[0])
	}
}

func TestManParseHelp(t *testing.T) {
	desc, usage, cmds, err := ParseHelp(mainHelp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(desc, "ppsync turns a folder") || !strings.HasSuffix(desc, "beside it.") || strings.Contains(desc, "\n") {
		t.Errorf("desc = %q", desc)
	}
	if usage != "ppsync <command> [flags]" {
		t.Errorf("usage = %q", usage)
	}
	if len(cmds) != 3 || cmds[0] != (Command{"run", "watch the inboxes"}) || cmds[2].Name != "help" {
		t.Errorf("cmds = %+v", cmds)
	}
	for _, bad := range []string{"just text\n", "desc\n\nUsage: ppsync x\n", "Usage: ppsync x\n\n  run  r\n"} {
		if _, _, _, err := ParseHelp(bad); err == nil {
			t.Errorf("ParseHelp(%q): no error", bad)
		}
	}
}

func TestManRender(t *testing.T) {
	page, err := Render(fakeHelp(map[string]string{
		"run":   "Usage: ppsync run -c FILE [--once]\n\n  -c string\n    \tconfig file\n.dot at start\n\n\\backslash\n",
		"start": "Usage: ppsync start\n",
	}), "1.2.3", "2026-01-31")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`.TH PPSYNC 1 "2026\-01\-31" "ppsync 1.2.3" "User Commands"`,
		`ppsync \- turns a folder into a PerfectParser pipeline` + "\n",
		".SS run\nwatch the inboxes\n",
		`Usage: ppsync run \-c FILE [\-\-once]`,
		"\n\\&.dot at start\n", // a help line starting with a dot is text, not a request
		"\n\\&\n",              // an empty line inside .nf stays a line
		`\ebackslash`,
		".SS start\n", ".SS help\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if _, err := Render(fakeHelp(map[string]string{"run": "x"}), "1", "2026-01-31"); err == nil || !strings.Contains(err.Error(), "start") {
		t.Errorf("a command without help: err = %v", err)
	}
}

// The page made from a fake help renders without groff warnings.
func TestManRendersCleanly(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("SKIPPED: groff not installed (apt-get install groff-base); the packaging test renders the real page with man")
	}
	page, err := Render(fakeHelp(map[string]string{"run": "Usage: ppsync run\n.x\n'y\n", "start": ""}), "1.2.3", "2026-01-31")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "ppsync.1")
	c := exec.Command("sh", "-c", `cat > "$1" && "$2" -man -Tutf8 -ww -z "$1"`, "sh", f, groff)
	c.Stdin = strings.NewReader(page)
	if out, err := c.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -ww: %v\n%s", err, out)
	}
}

// The page has the sections no help text holds, and its configuration
// reference lists every key the config package reads, under its table.
func TestManSectionsAndConfigReference(t *testing.T) {
	page, err := Render(fakeHelp(map[string]string{"run": "Usage: ppsync run\n", "start": ""}), "1.2.3", "2026-01-31")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".SH SIGNALS\n", ".B SIGHUP\n", ".BR SIGTERM \", \" SIGINT\n", ".SH ENVIRONMENT\n", ".B PP_API_KEY\n",
		".B GOMEMLIMIT\n", "HTTPS_PROXY", ".SH EXIT STATUS\n", ".SH FILES\n", ".SH CONFIGURATION\n", "/etc/ppsync/env",
		"/usr/share/bash\\-completion/completions/ppsync", ".SH SEE ALSO\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	ref := page[strings.Index(page, ".SH CONFIGURATION"):]
	ref = ref[:strings.Index(ref, ".SH SEE ALSO")]
	keys := config.Keys()
	for _, k := range keys {
		if k.Table {
			if !strings.Contains(ref, ".SS [["+k.Name+"]]\n") {
				t.Errorf("no section for [[%s]]", k.Name)
			}
			continue
		}
		i := strings.LastIndex(k.Name, ".")
		table, leaf := k.Name[:i], k.Name[i+1:]
		sec := strings.Index(ref, ".SS ["+table+"]\n")
		if sec < 0 {
			sec = strings.Index(ref, ".SS [["+table+"]]\n")
		}
		if sec < 0 {
			t.Errorf("no section for [%s]", table)
			continue
		}
		body := ref[sec+4:]
		if end := strings.Index(body, ".SS "); end >= 0 {
			body = body[:end]
		}
		if !strings.Contains(body, ".B "+escape(leaf)+"\n") {
			t.Errorf("the reference lacks %s", k.Name)
		}
	}
	if !strings.Contains(ref, ".B settle\nduration; default: \"2s\"\n") {
		t.Errorf("settle's entry lacks its kind and default:\n%s", ref)
	}
}
