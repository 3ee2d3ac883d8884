package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	ks "github.com/kardianos/service"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/service"
)

// defaultConfigPath is where a service looks for its config when -c is not given.
func defaultConfigPath(goos string, getenv func(string) string) string {
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

// configOrDefault returns -c, else the platform default when it exists.
func (m *Main) configOrDefault(flagValue string) (string, error) {
	return m.instanceConfigOrDefault(flagValue, "")
}

// instanceConfigOrDefault returns -c, else the default config of the
// service instance (--name) when it exists.
func (m *Main) instanceConfigOrDefault(flagValue, instance string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	def := instanceConfigPath(runtime.GOOS, instance, m.Getenv)
	if _, err := os.Stat(def); err == nil {
		return def, nil
	}
	return "", fmt.Errorf("-c FILE is required (no config at the default %s; start from config.example.toml)", def)
}

// unitFor describes the service for cfg.
func unitFor(cfg *config.Config, userName, instance string) (service.Unit, error) {
	exe, err := os.Executable()
	if err != nil {
		return service.Unit{}, fmt.Errorf("cannot find the ppsync binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return service.Unit{}, err
	}
	u := service.Unit{Exe: exe, ConfigPath: cfg.File, User: userName, Instance: instance}
	for _, in := range cfg.Inboxes {
		u.RWPaths = append(u.RWPaths, in.Path)
		if in.After == "move" {
			u.RWPaths = append(u.RWPaths, in.ProcessedDir, in.FailedDir)
		}
	}
	if dir := filepath.Dir(cfg.State.Path); dir != "/var/lib/ppsync" && !strings.HasPrefix(dir, "/var/lib/ppsync/") {
		u.RWPaths = append(u.RWPaths, dir)
	}
	return u, nil
}

type noopProgram struct{}

func (noopProgram) Start(ks.Service) error { return nil }
func (noopProgram) Stop(ks.Service) error  { return nil }

func newService(cfg *config.Config, userName, instance string, prg ks.Interface) (ks.Service, error) {
	u, err := unitFor(cfg, userName, instance)
	if err != nil {
		return nil, err
	}
	return ks.New(prg, service.Config(runtime.GOOS, u))
}

// serviceStatus says whether the service instance (--name; "" for the
// default) is installed and running.
func serviceStatus(instance string) string {
	s, err := ks.New(noopProgram{}, &ks.Config{Name: service.ServiceName(runtime.GOOS, instance)})
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, ks.ErrNotInstalled):
		return "not installed"
	case err != nil:
		return "unknown (" + err.Error() + ")"
	case st == ks.StatusRunning:
		return "installed, running"
	case st == ks.StatusStopped:
		return "installed, stopped"
	}
	return "installed"
}

func (m *Main) runInstall(ctx context.Context, args []string) error {
	fs := m.flags("install", "install -c FILE [--user NAME] [--name NAME]")
	cfgPath := fs.String("c", "", "config file (default: the platform's, e.g. /etc/ppsync/config.toml; with --name NAME: /etc/ppsync/NAME.toml)")
	instance := instanceFlag(fs)
	userName := fs.String("user", defaultServiceUser(), "account the service runs as (Windows: DOMAIN\\name, a managed service account DOMAIN\\name$, or by default NT SERVICE\\ppsync; a password is asked for, never taken from the command line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := service.CheckInstance(*instance); err != nil {
		return err
	}
	path, err := m.instanceConfigOrDefault(*cfgPath, *instance)
	if err != nil {
		return err
	}
	cfg, err := m.loadConfig(path, nil)
	if err != nil {
		return err
	}
	if err := m.checkInstanceConflicts(cfg); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return m.installWindows(ctx, cfg, *userName, *instance)
	}
	if err := service.CheckInstallable(runtime.GOOS, chosenSystem()); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	if runtime.GOOS == "linux" && *userName != "" {
		if _, err := user.Lookup(*userName); err != nil {
			return fmt.Errorf("user %q does not exist: create it with 'useradd --system --home-dir /var/lib/ppsync --shell /usr/sbin/nologin %s' (the .deb/.rpm do this), or pass --user", *userName, *userName)
		}
	}
	s, err := newService(cfg, *userName, *instance, noopProgram{})
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("install the service: %w (run as root / Administrator; 'ppsync uninstall%s' first to reinstall)", err, nameArg(*instance))
	}
	fmt.Fprintf(m.Stdout, "installed service %q with config %s\nstart it with: ppsync start%s\n", service.ServiceName(runtime.GOOS, *instance), cfg.File, nameArg(*instance))
	return nil
}

// installWindows installs the Windows service, or upgrades it in place
// when it exists (new binary, same account and password).
func (m *Main) installWindows(ctx context.Context, cfg *config.Config, userName, instance string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the ppsync binary: %w", err)
	}
	existing, err := service.QueryWindows(service.ServiceName("windows", instance))
	if err != nil {
		return err
	}
	plan, err := service.PlanWindows(service.WindowsInput{
		Exe: exe, ProgramFiles: m.Getenv("ProgramFiles"), ProgramData: m.Getenv("ProgramData"),
		ConfigPath: cfg.File, User: userName, Existing: existing, Instance: instance,
	})
	if err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	var password string
	if !plan.Upgrade && plan.Account.NeedsPassword() {
		if password, err = service.ReadPassword(os.Stdin, m.Stderr, plan.Account.Name); err != nil {
			return err
		}
	}
	if err := service.ApplyWindows(ctx, plan, password, m.Stdout); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	if plan.Upgrade {
		fmt.Fprintf(m.Stdout, "upgraded service %q to %s, still running as %s, config %s\n", plan.Name, plan.Exe, plan.Account.Name, cfg.File)
		return nil
	}
	fmt.Fprintf(m.Stdout, "installed service %q (%s, delayed automatic start, restarts on failure) running as %s, config %s\nstart it with: ppsync start%s\n",
		plan.Name, plan.Exe, plan.Account.Name, cfg.File, nameArg(instance))
	return nil
}

// chosenSystem names the service system kardianos found ("" for none).
func chosenSystem() string {
	if sys := ks.ChosenSystem(); sys != nil {
		return sys.String()
	}
	return ""
}

func defaultServiceUser() string {
	if runtime.GOOS == "linux" {
		return "ppsync"
	}
	return "" // Windows: the virtual account NT SERVICE\ppsync; macOS: root daemon
}

// startHold is how long start and restart watch the service before
// saying it runs: long enough for a bad key or config to stop it.
const startHold = 5 * time.Second

// serviceControl runs start, stop, restart or uninstall.
func (m *Main) serviceControl(action string) func(*Main, context.Context, []string) error {
	return func(m *Main, ctx context.Context, args []string) error {
		fs := m.flags(action, action+" [--name NAME]")
		instance := instanceFlag(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		if err := service.CheckInstance(*instance); err != nil {
			return err
		}
		name := service.ServiceName(runtime.GOOS, *instance)
		if action == "uninstall" && runtime.GOOS == "windows" {
			if err := service.UninstallWindows(ctx, name, name); err != nil {
				return fmt.Errorf("uninstall the service: %w", err)
			}
			fmt.Fprintf(m.Stdout, "uninstall: done (the config, the state and the logs in %s are kept)\n", filepath.Dir(instanceConfigPath("windows", *instance, m.Getenv)))
			return nil
		}
		s, err := ks.New(noopProgram{}, &ks.Config{Name: name, DisplayName: service.InstanceDisplayName(*instance)})
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- ks.Control(s, action) }()
		// kardianos' client-side stop can hang on some platforms: bound it.
		select {
		case err = <-done:
		case <-time.After(45 * time.Second):
			err = errors.New("the service manager did not answer within 45 s")
		}
		if err != nil {
			return fmt.Errorf("%s the service: %w (is it installed? run as root / Administrator)", action, err)
		}
		if action == "start" || action == "restart" {
			if err := service.ConfirmRunning(ctx, serviceProbe(s, name), startHold, 250*time.Millisecond); err != nil {
				return fmt.Errorf("%s the service: %w; %s", action, err, whereLogs(*instance))
			}
		}
		fmt.Fprintf(m.Stdout, "%s: done\n", action)
		return nil
	}
}

// serviceProbe reads the service's state from its manager. systemd's own
// view is needed: kardianos counts "activating (auto-restart)", a daemon
// that died and waits to be restarted, as running.
func serviceProbe(s ks.Service, name string) func(context.Context) (service.State, error) {
	switch {
	case runtime.GOOS == "windows":
		return service.WindowsProbe(name)
	case chosenSystem() == "linux-systemd":
		return func(ctx context.Context) (service.State, error) {
			out, err := exec.CommandContext(ctx, "systemctl", "show", name+".service", "--property=ActiveState,SubState,NRestarts").Output()
			if err != nil {
				return service.State{}, fmt.Errorf("systemctl show %s: %w", name, err)
			}
			return service.ParseSystemdShow(string(out))
		}
	}
	return func(context.Context) (service.State, error) {
		st, err := s.Status()
		switch {
		case err != nil:
			return service.State{Phase: service.PhaseStopped, Detail: err.Error()}, nil
		case st == ks.StatusRunning:
			return service.State{Phase: service.PhaseRunning, Detail: "running"}, nil
		case st == ks.StatusStopped:
			return service.State{Phase: service.PhaseStopped, Detail: "stopped"}, nil
		}
		return service.State{Phase: service.PhaseStarting, Detail: "state unknown"}, nil
	}
}

// whereLogs says where to read why the service stopped.
func whereLogs(instance string) string {
	name := service.ServiceName(runtime.GOOS, instance)
	switch runtime.GOOS {
	case "windows":
		return `see the Event Log (Application, source ` + name + `) and ` + windowsLogDir(`%ProgramData%`, instance) + `\ppsync.log`
	case "darwin":
		return "see /usr/local/var/log/ppsync/" + name + ".err.log"
	}
	return "see: journalctl -u " + name + " -n 50"
}

// nameArg is " --name NAME" for an instance, "" for the default service.
func nameArg(instance string) string {
	if instance == "" {
		return ""
	}
	return " --name " + instance
}

// windowsLogDir is the Windows service's log folder under programData:
// %ProgramData%\ppsync\logs, or %ProgramData%\ppsync\NAME\logs.
func windowsLogDir(programData, instance string) string {
	if instance == "" {
		return programData + `\ppsync\logs`
	}
	return programData + `\ppsync\` + instance + `\logs`
}
