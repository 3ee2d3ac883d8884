package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	ks "github.com/kardianos/service"

	"github.com/ppsync/ppsync/internal/config"
)

// UnitFor describes the service for cfg.
func UnitFor(cfg *config.Config, userName, instance string) (Unit, error) {
	exe, err := os.Executable()
	if err != nil {
		return Unit{}, fmt.Errorf("cannot find the ppsync binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return Unit{}, err
	}
	u := Unit{Exe: exe, ConfigPath: cfg.File, User: userName, Instance: instance}
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

// Status says whether the service instance (--name; "" for the default)
// is installed and running.
func Status(instance string) string {
	s, err := ks.New(noopProgram{}, &ks.Config{Name: ServiceName(runtime.GOOS, instance)})
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

// ChosenSystem names the service system kardianos found ("" for none).
func ChosenSystem() string {
	if sys := ks.ChosenSystem(); sys != nil {
		return sys.String()
	}
	return ""
}

// Install installs the service for cfg with systemd or launchd (Windows:
// InstallWindows), running as userName.
func Install(cfg *config.Config, userName, instance string) error {
	if err := CheckInstallable(runtime.GOOS, ChosenSystem()); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	if runtime.GOOS == "linux" && userName != "" {
		if _, err := user.Lookup(userName); err != nil {
			return fmt.Errorf("user %q does not exist: create it with 'useradd --system --home-dir /var/lib/ppsync --shell /usr/sbin/nologin %s' (the .deb/.rpm do this), or pass --user", userName, userName)
		}
	}
	u, err := UnitFor(cfg, userName, instance)
	if err != nil {
		return err
	}
	s, err := ks.New(noopProgram{}, Config(runtime.GOOS, u))
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("install the service: %w (run as root / Administrator; 'ppsync uninstall%s' first to reinstall)", err, NameArg(instance))
	}
	return nil
}

// InstallWindows installs the Windows service, or upgrades it in place
// when it exists (new binary, same account and password). A new service
// account's password is read from stdin (see ReadPassword), its prompt
// written to prompt; what is done is written to out.
func InstallWindows(ctx context.Context, cfg *config.Config, userName, instance string, getenv func(string) string,
	stdin *os.File, prompt, out io.Writer) (WindowsPlan, error) {
	exe, err := os.Executable()
	if err != nil {
		return WindowsPlan{}, fmt.Errorf("cannot find the ppsync binary: %w", err)
	}
	existing, err := QueryWindows(ServiceName("windows", instance))
	if err != nil {
		return WindowsPlan{}, err
	}
	plan, err := PlanWindows(WindowsInput{
		Exe: exe, ProgramFiles: getenv("ProgramFiles"), ProgramData: getenv("ProgramData"),
		ConfigPath: cfg.File, User: userName, Existing: existing, Instance: instance,
	})
	if err != nil {
		return WindowsPlan{}, fmt.Errorf("install the service: %w", err)
	}
	var password string
	if !plan.Upgrade && plan.Account.NeedsPassword() {
		if password, err = ReadPassword(stdin, prompt, plan.Account.Name); err != nil {
			return WindowsPlan{}, err
		}
	}
	if err := ApplyWindows(ctx, plan, password, out); err != nil {
		return WindowsPlan{}, fmt.Errorf("install the service: %w", err)
	}
	return plan, nil
}

// StartHold is how long start and restart watch the service before
// saying it runs: long enough for a bad key or config to stop it.
const StartHold = 5 * time.Second

// Control runs start, stop, restart or uninstall on the service instance
// through its service manager; start and restart return once it has held
// running for StartHold.
func Control(ctx context.Context, action, instance string) error {
	if err := CheckInstance(instance); err != nil {
		return err
	}
	name := ServiceName(runtime.GOOS, instance)
	if action == "uninstall" && runtime.GOOS == "windows" {
		if err := UninstallWindows(ctx, name, name); err != nil {
			return fmt.Errorf("uninstall the service: %w", err)
		}
		return nil
	}
	s, err := ks.New(noopProgram{}, &ks.Config{Name: name, DisplayName: InstanceDisplayName(instance)})
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
		if err := ConfirmRunning(ctx, probe(s, name), StartHold, 250*time.Millisecond); err != nil {
			return fmt.Errorf("%s the service: %w; %s", action, err, WhereLogs(instance))
		}
	}
	return nil
}

// probe reads the service's state from its manager. systemd's own view is
// needed: kardianos counts "activating (auto-restart)", a daemon that died
// and waits to be restarted, as running.
func probe(s ks.Service, name string) func(context.Context) (State, error) {
	switch {
	case runtime.GOOS == "windows":
		return WindowsProbe(name)
	case ChosenSystem() == "linux-systemd":
		return func(ctx context.Context) (State, error) {
			out, err := exec.CommandContext(ctx, "systemctl", "show", name+".service", "--property=ActiveState,SubState,NRestarts").Output()
			if err != nil {
				return State{}, fmt.Errorf("systemctl show %s: %w", name, err)
			}
			return ParseSystemdShow(string(out))
		}
	}
	return func(context.Context) (State, error) {
		st, err := s.Status()
		switch {
		case err != nil:
			return State{Phase: PhaseStopped, Detail: err.Error()}, nil
		case st == ks.StatusRunning:
			return State{Phase: PhaseRunning, Detail: "running"}, nil
		case st == ks.StatusStopped:
			return State{Phase: PhaseStopped, Detail: "stopped"}, nil
		}
		return State{Phase: PhaseStarting, Detail: "state unknown"}, nil
	}
}
