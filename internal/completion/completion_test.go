package completion

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestFlagsOfTellsValuesAndPaths(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("c", "", "config file")
	fs.Bool("once", false, "once")
	fs.String("out", "", "write to `FILE`\nsecond line")
	fs.Int("workers", 1, "workers")
	got := FlagsOf(fs)
	want := []Flag{
		{Name: "c", Usage: "config file", Value: true, File: true},
		{Name: "once", Usage: "once"},
		{Name: "out", Usage: "write to `FILE`", Value: true, File: true},
		{Name: "workers", Usage: "workers", Value: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("FlagsOf = %+v\nwant      %+v", got, want)
	}
	if s := FlagWords(got); s != "-c --once --out --workers" {
		t.Errorf("FlagWords = %q", s)
	}
}

func TestSubcommandsFromUsageLines(t *testing.T) {
	help := "Usage: ppsync state check|rebuild\n  ppsync state compact -c FILE\n  ppsync other thing\n  ppsync state check"
	if got := Subcommands(help, "state"); strings.Join(got, " ") != "check rebuild compact" {
		t.Errorf("Subcommands = %v", got)
	}
}

func TestWriteEveryShellAndRefuseOthers(t *testing.T) {
	spec := []Cmd{{Name: "run", Summary: "run it", Flags: []Flag{{Name: "c", Value: true, File: true}}},
		{Name: "state", Subs: []Cmd{{Name: "check"}}}}
	for _, sh := range Shells() {
		var b bytes.Buffer
		if err := Write(&b, sh, spec); err != nil || !strings.Contains(b.String(), "run") || !strings.Contains(b.String(), "check") {
			t.Errorf("%s: %v\n%s", sh, err, b.String())
		}
	}
	if err := Write(&bytes.Buffer{}, "tcsh", spec); err == nil || !strings.Contains(err.Error(), "bash, zsh, fish, powershell") {
		t.Errorf("tcsh: %v", err)
	}
}
