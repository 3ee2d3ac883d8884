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

// completionSpec asks each command of the table for its --help with the
// flag sets it makes collected (completion.Spec).
func (m *Main) completionSpec() []completion.Cmd {
	var names [][2]string
	byName := map[string]command{}
	for _, c := range m.commands() {
		names, byName[c.name] = append(names, [2]string{c.name, c.summary}), c
	}
	return completion.Spec(names, func(name string, args ...string) (map[string]*flag.FlagSet, string) {
		var out bytes.Buffer
		p := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" },
			flagSets: map[string]*flag.FlagSet{}}
		_ = byName[name].run(p, context.Background(), args)
		return p.flagSets, out.String()
	})
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
