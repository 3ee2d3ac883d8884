package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
)

// instanceConfigPath is the default config of the service instance (--name
// NAME; "" for the default service): /etc/ppsync/NAME.toml (the template
// unit's), /usr/local/etc/ppsync/NAME.toml, %ProgramData%\ppsync\NAME\config.toml.
func instanceConfigPath(goos, instance string, getenv func(string) string) string {
	def := defaultConfigPath(goos, getenv)
	if instance == "" {
		return def
	}
	if goos == "windows" {
		dir, file := winSplit(def)
		return dir + `\` + instance + `\` + file
	}
	return filepath.Join(filepath.Dir(def), instance+".toml")
}

// siblingConfigPaths are the default configs of the other instances that
// may be installed beside this one: every *.toml in the config folder on
// Linux and macOS, %ProgramData%\ppsync\config.toml and
// %ProgramData%\ppsync\*\config.toml on Windows.
func siblingConfigPaths(goos string, getenv func(string) string, glob func(string) ([]string, error)) []string {
	def := defaultConfigPath(goos, getenv)
	var pattern string
	paths := []string{}
	if goos == "windows" {
		dir, file := winSplit(def)
		paths = append(paths, def)
		pattern = dir + `\*\` + file
	} else {
		pattern = filepath.Join(filepath.Dir(def), "*.toml")
	}
	more, _ := glob(pattern)
	return append(paths, more...)
}

func winSplit(p string) (dir, file string) {
	i := strings.LastIndexAny(p, `\/`)
	return p[:i], p[i+1:]
}

// sameFile compares two paths as the platform does (Windows: ignoring case).
func sameFile(goos, a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if goos == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// instanceConflict refuses a config whose state file or admin address
// another config (others, the other instances' configs) already uses: two
// services would fight over the state's lock, or one admin endpoint would
// fail to listen.
func instanceConflict(goos string, cfg *config.Config, others []*config.Config) error {
	for _, o := range others {
		if o == nil || sameFile(goos, o.File, cfg.File) {
			continue
		}
		if sameFile(goos, o.State.Path, cfg.State.Path) {
			return fmt.Errorf("%s and %s both keep their state in %s: two services cannot share a state; "+
				"give each config its own [state] path (e.g. %s)", cfg.File, o.File, cfg.State.Path, suggestState(cfg.State.Path))
		}
		if cfg.Admin.Listen != "off" && cfg.Admin.Listen == o.Admin.Listen {
			return fmt.Errorf("%s and %s both set [admin] listen = %q: the second service could not listen; "+
				"give each config its own address (another port), or leave listen out: each state path then gets a port of its own",
				cfg.File, o.File, cfg.Admin.Listen)
		}
	}
	return nil
}

func suggestState(p string) string {
	ext := filepath.Ext(p)
	return strings.TrimSuffix(p, ext) + "-2" + ext
}

// checkInstanceConflicts loads the other instances' configs (one that
// cannot be read is not in the way) and refuses cfg if it shares a state
// file or an admin address with one of them.
func (m *Main) checkInstanceConflicts(cfg *config.Config) error {
	var others []*config.Config
	for _, p := range siblingConfigPaths(runtime.GOOS, m.Getenv, filepath.Glob) {
		if o, err := config.Load(p); err == nil {
			others = append(others, o)
		}
	}
	if err := instanceConflict(runtime.GOOS, cfg, others); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	return nil
}

// instanceFlag adds --name to a service command's flags.
func instanceFlag(fs interface {
	String(name, value, usage string) *string
}) *string {
	return fs.String("name", "", "the service instance, for one more config on this host: ppsync@NAME (systemd), ppsync-NAME (Windows, launchd); its default config is "+
		instanceConfigPath(runtime.GOOS, "NAME", func(string) string { return "" }))
}

// instanceConfig is -c, or with --name NAME and no -c that instance's
// default config (for commands that otherwise default to the default's).
func (m *Main) instanceConfig(path, instance string) string {
	if path == "" && instance != "" {
		return instanceConfigPath(runtime.GOOS, instance, m.Getenv)
	}
	return path
}
