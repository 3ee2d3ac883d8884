package service

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
)

// DefaultConfigPath is where a service looks for its config when -c is not given.
func DefaultConfigPath(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		pd := getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return strings.TrimRight(pd, `\/`) + `\ppsync\config.toml` // a Windows path, on any system
	case "darwin":
		return "/usr/local/etc/ppsync/config.toml"
	}
	return "/etc/ppsync/config.toml"
}

// InstanceConfigPath is the default config of the service instance (--name
// NAME; "" for the default service): /etc/ppsync/NAME.toml (the template
// unit's), /usr/local/etc/ppsync/NAME.toml, %ProgramData%\ppsync\NAME\config.toml.
func InstanceConfigPath(goos, instance string, getenv func(string) string) string {
	def := DefaultConfigPath(goos, getenv)
	if instance == "" {
		return def
	}
	if goos == "windows" {
		dir, file := winSplit(def)
		return dir + `\` + instance + `\` + file
	}
	return filepath.Join(filepath.Dir(def), instance+".toml")
}

// SiblingConfigPaths are the default configs of the other instances that
// may be installed beside this one: every *.toml in the config folder on
// Linux and macOS, %ProgramData%\ppsync\config.toml and
// %ProgramData%\ppsync\*\config.toml on Windows.
func SiblingConfigPaths(goos string, getenv func(string) string, glob func(string) ([]string, error)) []string {
	def := DefaultConfigPath(goos, getenv)
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

// InstanceConflict refuses a config whose state file or admin address
// another config (others, the other instances' configs) already uses: two
// services would fight over the state's lock, or one admin endpoint would
// fail to listen. A port 0 (any free port) never conflicts.
func InstanceConflict(goos string, cfg *config.Config, others []*config.Config) error {
	for _, o := range others {
		if o == nil || sameFile(goos, o.File, cfg.File) {
			continue
		}
		if sameFile(goos, o.State.Path, cfg.State.Path) {
			return fmt.Errorf("%s and %s both keep their state in %s: two services cannot share a state; "+
				"give each config its own [state] path (e.g. %s)", cfg.File, o.File, cfg.State.Path, suggestState(cfg.State.Path))
		}
		if cfg.Admin.Listen != "off" && !strings.HasSuffix(cfg.Admin.Listen, ":0") && cfg.Admin.Listen == o.Admin.Listen {
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

// CheckInstanceConflicts loads the other instances' configs on this
// system (one that cannot be read is not in the way) and refuses cfg if it
// shares a state file or an admin address with one of them.
func CheckInstanceConflicts(cfg *config.Config, getenv func(string) string) error {
	var others []*config.Config
	for _, p := range SiblingConfigPaths(runtime.GOOS, getenv, filepath.Glob) {
		if o, err := config.Load(p); err == nil {
			others = append(others, o)
		}
	}
	if err := InstanceConflict(runtime.GOOS, cfg, others); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	return nil
}

// NameArg is " --name NAME" for an instance, "" for the default service.
func NameArg(instance string) string {
	if instance == "" {
		return ""
	}
	return " --name " + instance
}

// WindowsLogDir is the Windows service's log folder under programData:
// %ProgramData%\ppsync\logs, or %ProgramData%\ppsync\NAME\logs.
func WindowsLogDir(programData, instance string) string {
	if instance == "" {
		return programData + `\ppsync\logs`
	}
	return programData + `\ppsync\` + instance + `\logs`
}

// WhereLogs says where to read why the service instance stopped.
func WhereLogs(instance string) string {
	name := ServiceName(runtime.GOOS, instance)
	switch runtime.GOOS {
	case "windows":
		return `see the Event Log (Application, source ` + name + `) and ` + WindowsLogDir(`%ProgramData%`, instance) + `\ppsync.log`
	case "darwin":
		return "see /usr/local/var/log/ppsync/" + name + ".err.log"
	}
	return "see: journalctl -u " + name + " -n 50"
}

// DefaultUser is the account the service runs as unless --user says
// otherwise: ppsync on Linux; on Windows the virtual account NT
// SERVICE\ppsync (""), on macOS a root daemon ("").
func DefaultUser() string {
	if runtime.GOOS == "linux" {
		return "ppsync"
	}
	return ""
}

// ConfigOrDefault is the config a command reads: flagValue (-c) when
// given, else the default config of the instance ("" for the default
// service) when it exists, else an error saying -c is needed.
func ConfigOrDefault(flagValue, instance string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	def := InstanceConfigPath(runtime.GOOS, instance, getenv)
	if _, err := os.Stat(def); err == nil {
		return def, nil
	}
	return "", fmt.Errorf("-c FILE is required (no config at the default %s; start from config.example.toml)", def)
}

// InstanceFlagHelp is the help of a service command's --name flag.
func InstanceFlagHelp() string {
	return "the service instance, for one more config on this host: ppsync@NAME (systemd), ppsync-NAME (Windows, launchd); its default config is " +
		InstanceConfigPath(runtime.GOOS, "NAME", func(string) string { return "" })
}
