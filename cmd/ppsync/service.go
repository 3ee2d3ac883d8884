package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
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
		return filepath.Join(pd, "ppsync", "config.toml")
	case "darwin":
		return "/usr/local/etc/ppsync/config.toml"
	}
	return "/etc/ppsync/config.toml"
}

// configOrDefault returns -c, else the platform default when it exists.
func (m *Main) configOrDefault(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	def := defaultConfigPath(runtime.GOOS, m.Getenv)
	if _, err := os.Stat(def); err == nil {
		return def, nil
	}
	return "", fmt.Errorf("-c FILE is required (no config at the default %s; start from config.example.toml)", def)
}

// unitFor describes the service for cfg.
func unitFor(cfg *config.Config, userName string) (service.Unit, error) {
	exe, err := os.Executable()
	if err != nil {
		return service.Unit{}, fmt.Errorf("cannot find the ppsync binary: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return service.Unit{}, err
	}
	u := service.Unit{Exe: exe, ConfigPath: cfg.File, User: userName}
	for _, in := range cfg.Inboxes {
		u.RWPaths = append(u.RWPaths, in.Path)
		if in.After == "move" {
			u.RWPaths = append(u.RWPaths, in.ProcessedDir, in.FailedDir)
		}
	}
	if dir := filepath.Dir(cfg.State.Path); dir != "/var/lib/ppsync" {
		u.RWPaths = append(u.RWPaths, dir)
	}
	return u, nil
}

type noopProgram struct{}

func (noopProgram) Start(ks.Service) error { return nil }
func (noopProgram) Stop(ks.Service) error  { return nil }

func newService(cfg *config.Config, userName string, prg ks.Interface) (ks.Service, error) {
	u, err := unitFor(cfg, userName)
	if err != nil {
		return nil, err
	}
	return ks.New(prg, service.Config(runtime.GOOS, u))
}

// serviceStatus says whether the service is installed and running.
func serviceStatus(cfgFile string) string {
	s, err := ks.New(noopProgram{}, &ks.Config{Name: service.Name})
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

func (m *Main) runInstall(_ context.Context, args []string) error {
	fs := m.flags("install", "install -c FILE [--user NAME]")
	cfgPath := fs.String("c", "", "config file (default: the platform's, e.g. /etc/ppsync/config.toml)")
	userName := fs.String("user", defaultServiceUser(), "account the service runs as")
	if err := parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(*cfgPath)
	if err != nil {
		return err
	}
	cfg, err := m.loadConfig(path, nil)
	if err != nil {
		return err
	}
	if runtime.GOOS == "linux" && *userName != "" {
		if _, err := user.Lookup(*userName); err != nil {
			return fmt.Errorf("user %q does not exist: create it with 'useradd --system --home-dir /var/lib/ppsync --shell /usr/sbin/nologin %s' (the .deb/.rpm do this), or pass --user", *userName, *userName)
		}
	}
	s, err := newService(cfg, *userName, noopProgram{})
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("install the service: %w (run as root / Administrator; 'ppsync uninstall' first to reinstall)", err)
	}
	fmt.Fprintf(m.Stdout, "installed service %q with config %s\nstart it with: ppsync start\n", service.Name, cfg.File)
	return nil
}

func defaultServiceUser() string {
	if runtime.GOOS == "linux" {
		return "ppsync"
	}
	return "" // Windows: LocalSystem unless --user; macOS: root daemon
}

// serviceControl runs start, stop, restart or uninstall.
func (m *Main) serviceControl(action string) func(*Main, context.Context, []string) error {
	return func(m *Main, _ context.Context, args []string) error {
		fs := m.flags(action, action)
		if err := parse(fs, args); err != nil {
			return err
		}
		s, err := ks.New(noopProgram{}, &ks.Config{Name: service.Name, DisplayName: service.DisplayName})
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
		fmt.Fprintf(m.Stdout, "%s: done\n", action)
		return nil
	}
}
