package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/completion"
)

// completionSpec reads the commands, their subcommands and their flags
// from the command table: each command is asked for its --help with the
// flag sets it makes collected, so the scripts follow every change.
func (m *Main) completionSpec() []completion.Cmd {
	probe := func(c command, args ...string) (map[string]*flag.FlagSet, string) {
		var out bytes.Buffer
		p := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" },
			flagSets: map[string]*flag.FlagSet{}}
		_ = c.run(p, context.Background(), args)
		return p.flagSets, out.String()
	}
	var spec []completion.Cmd
	for _, c := range m.commands() {
		cc := completion.Cmd{Name: c.name, Summary: c.summary}
		sets, help := probe(c, "--help")
		if strings.Contains(help, "PATH") {
			cc.Args = "file" // retry PATH...
		}
		if fs := sets[c.name]; fs != nil {
			cc.Flags = completion.FlagsOf(fs)
		}
		for _, s := range completion.Subcommands(help, c.name) {
			sets, _ := probe(c, s, "--help")
			sc := completion.Cmd{Name: s}
			if fs := sets[c.name+" "+s]; fs != nil {
				sc.Flags = completion.FlagsOf(fs)
			}
			cc.Subs = append(cc.Subs, sc)
		}
		switch c.name {
		case "help":
			cc.Args = "command"
		case "completion":
			cc.Args, cc.Subs = "", nil
			for _, s := range completion.Shells() {
				cc.Subs = append(cc.Subs, completion.Cmd{Name: s})
			}
		}
		if len(cc.Subs) > 0 {
			cc.Args = ""
		}
		spec = append(spec, cc)
	}
	return spec
}

func (m *Main) runCompletion(_ context.Context, args []string) error {
	fs := m.flags("completion", "completion bash|zsh|fish|powershell")
	rest, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || !slices.Contains(completion.Shells(), rest[0]) {
		fs.Usage()
		return fmt.Errorf("completion: name one shell: %s", strings.Join(completion.Shells(), ", "))
	}
	return completion.Write(m.Stdout, rest[0], m.completionSpec())
}
