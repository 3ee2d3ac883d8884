package cli

import (
	"fmt"

	"github.com/ppsync/ppsync/internal/config"
)

// ConfigShow is 'ppsync config show': every setting of the config at path
// after the defaults, with where it came from, as TOML ppsync reads back
// (secrets masked) or as JSON. given tells whether path was given with -c
// (else it is the default location).
func (c Console) ConfigShow(path string, given, asJSON bool) error {
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	settings := cfg.Effective(c.Getenv)
	from := "given with -c"
	if !given {
		from = "the default location"
	}
	if asJSON {
		return WriteJSON(c.Stdout, struct {
			File     string           `json:"file"`
			FileFrom string           `json:"file_from"`
			Settings []config.Setting `json:"settings"`
		}{cfg.File, from, settings})
	}
	fmt.Fprintf(c.Stdout, "# The effective configuration of %s (%s): every setting with its value\n"+
		"# after the defaults, and where the value came from (the file's line, or the default).\n"+
		"# Secrets are masked and commented out; settings not set are commented out.\n"+
		"# ppsync reads this file back as it is (put the secrets back, or keep them in\n"+
		"# api_key_file, the env file, url_env or url_file).\n\n", cfg.File, from)
	fmt.Fprint(c.Stdout, config.RenderTOML(settings))
	return nil
}
