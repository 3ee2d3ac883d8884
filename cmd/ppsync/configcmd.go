package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
)

// runConfig is 'ppsync config show': the effective configuration.
func (m *Main) runConfig(_ context.Context, args []string) error {
	fs := m.configFlags()
	if len(args) == 0 || args[0] != "show" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return fmt.Errorf("config: name what to do: 'ppsync config show -c FILE'")
	}
	cfgPath := fs.Lookup("c").Value
	asJSON := fs.Lookup("json").Value
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	given := cfgPath.String()
	path, err := m.configOrDefault(given)
	if err != nil {
		fs.Usage()
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	settings := cfg.Effective(m.Getenv)
	from := "given with -c"
	if given == "" {
		from = "the default location"
	}
	if asJSON.String() == "true" {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			File     string           `json:"file"`
			FileFrom string           `json:"file_from"`
			Settings []config.Setting `json:"settings"`
		}{cfg.File, from, settings})
	}
	fmt.Fprintf(m.Stdout, "# The effective configuration of %s (%s): every setting with its value\n", cfg.File, from)
	fmt.Fprintln(m.Stdout, "# after the defaults, and where the value came from (the file's line, or the default).")
	fmt.Fprintln(m.Stdout, "# Secrets are masked and commented out; settings not set are commented out.")
	fmt.Fprintln(m.Stdout, "# ppsync reads this file back as it is (put the secrets back, or keep them in")
	fmt.Fprintln(m.Stdout, "# api_key_file, the env file, url_env or url_file).")
	fmt.Fprintln(m.Stdout)
	fmt.Fprint(m.Stdout, config.RenderTOML(settings))
	return nil
}

func (m *Main) configFlags() *flag.FlagSet {
	fs := m.flags("config show", "config show -c FILE [--json]")
	fs.String("c", "", "config file (default: the service's config)")
	fs.Bool("json", false, "print the settings as JSON: key, value (or masked), source")
	return fs
}
