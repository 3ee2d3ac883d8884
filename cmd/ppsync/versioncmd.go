package main

import (
	"context"
	"fmt"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/version"
)

// runVersion prints what the binary is: version, commit, commit date,
// whether the tree was modified, Go version and platform.
func (m *Main) runVersion(_ context.Context, args []string) error {
	fs := m.flags("version", "version [--json]")
	asJSON := fs.Bool("json", false, "print the facts as one JSON object")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	in := version.Get()
	if *asJSON {
		return cli.WriteJSON(m.Stdout, in)
	}
	fmt.Fprint(m.Stdout, in.Text())
	return nil
}
