package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		c    string
		pos  []string
		err  error
	}{
		{[]string{"a.pdf", "-c", "x.toml", "b.pdf"}, "x.toml", []string{"a.pdf", "b.pdf"}, nil},
		{[]string{"-c", "x.toml", "--", "-c", "d.pdf"}, "x.toml", []string{"-c", "d.pdf"}, nil},
		{[]string{"--nope"}, "", nil, ErrUsage},
		{[]string{"--help"}, "", nil, flag.ErrHelp},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		cfg := fs.String("c", "", "")
		pos, err := ParseArgs(fs, c.args)
		if !errors.Is(err, c.err) || (err == nil && (*cfg != c.c || !slices.Equal(pos, c.pos))) {
			t.Errorf("ParseArgs(%q) = %q, -c %q, %v; want %q, -c %q, %v", c.args, pos, *cfg, err, c.pos, c.c, c.err)
		}
	}
}

func TestParseRefusesPositional(t *testing.T) {
	var out bytes.Buffer
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(&out)
	if err := Parse(fs, []string{"stray"}); !errors.Is(err, ErrUsage) || !strings.Contains(out.String(), "unexpected arguments: stray") {
		t.Errorf("Parse with a positional argument = %v, output %q", err, out.String())
	}
}

// Without a terminal nobody can confirm: no question is asked.
func TestConfirmNeedsATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "answer"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, in := range []any{strings.NewReader("yes\n"), f} {
		var out bytes.Buffer
		ok, err := Confirm(in.(interface{ Read([]byte) (int, error) }), &out, "Go? ")
		if ok || !errors.Is(err, ErrNoTerminal) || out.Len() > 0 {
			t.Errorf("Confirm(%T) = %v, %v, asked %q; want ErrNoTerminal and no question", in, ok, err, out.String())
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 files", 1: "1 file", 2: "2 files"} {
		if got := Plural(n, "file"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Plural(3, "credits"); got != "3 credits" {
		t.Errorf("Plural(3, credits) = %q", got)
	}
}
