package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ppsync/ppsync/internal/cli"
)

// runConfig is 'ppsync config show': the effective configuration.
func (m *Main) runConfig(_ context.Context, args []string) error {
	fs := m.flags("config show", "config show -c FILE [--json]")
	cfgPath := fs.String("c", "", "config file (default: the service's config)")
	asJSON := fs.Bool("json", false, "print the settings as JSON: key, value (or masked), source")
	if len(args) == 0 || args[0] != "show" {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return fmt.Errorf("config: name what to do: 'ppsync config show -c FILE'")
	}
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	path, err := m.configOrDefault(fs, *cfgPath)
	if err != nil {
		return err
	}
	return m.console().ConfigShow(path, *cfgPath != "", *asJSON)
}
