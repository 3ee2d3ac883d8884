package cli

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"testing"
)

// A command's --help: its usage line, its about sentence and help when it
// has them, then its flags when it has any.
func TestFlagSetHelp(t *testing.T) {
	type helpCase struct {
		name, about, help string
		flags             bool
		want              string
	}
	for _, c := range []helpCase{
		{"status", "Show it.", "More.", true, "Usage: ppsync status -c FILE\n\nShow it.\nMore.\n\nFlags:\n  -c string\n    \tconfig file\n"},
		{"demo", "Try it.", "", true, "Usage: ppsync demo -c FILE\n\nTry it.\n\nFlags:\n  -c string\n    \tconfig file\n"},
		{"x", "", "", false, "Usage: ppsync x -c FILE\n\n"},
	} {
		var out bytes.Buffer
		fs := FlagSet(c.name, c.name+" -c FILE", c.about, c.help, &out)
		if c.flags {
			fs.String("c", "", "config file")
		}
		if err := fs.Parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) || out.String() != c.want {
			t.Errorf("%s --help = %v,\n%q\nwant\n%q", c.name, err, out.String(), c.want)
		}
	}
}

func TestAction(t *testing.T) {
	actions := []string{"list", "show"}
	for _, c := range []struct {
		args   []string
		action string
		rest   []string
		err    error
		out    string
	}{
		{[]string{"show", "r1", "-c", "x"}, "show", []string{"r1", "-c", "x"}, nil, ""},
		{[]string{"list"}, "list", []string{}, nil, ""},
		{nil, "", nil, ErrUsage, "Usage: ppsync g list|show\n"},
		{[]string{"nope"}, "", nil, ErrUsage, "Usage: ppsync g list|show\n"},
		{[]string{"-c", "x"}, "", nil, ErrUsage, "Usage: ppsync g list|show\n"},
		{[]string{"--help"}, "", nil, flag.ErrHelp, "Usage: ppsync g list|show\n\nAbout g.\n"},
		{[]string{"-h"}, "", nil, flag.ErrHelp, "Usage: ppsync g list|show\n\nAbout g.\n"},
	} {
		var out bytes.Buffer
		a, rest, err := Action(&out, c.args, actions, "Usage: ppsync g list|show\n", "About g.")
		if a != c.action || !slices.Equal(rest, c.rest) || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) || out.String() != c.out {
			t.Errorf("Action(%q) = %q, %q, %v, printed %q; want %q, %q, %v, %q", c.args, a, rest, err, out.String(), c.action, c.rest, c.err, c.out)
		}
	}
}
