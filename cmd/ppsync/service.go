package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/logx"
	"github.com/ppsync/ppsync/internal/service"
)

// configOrDefault returns -c, else the platform default when it exists;
// with neither it shows fs's usage.
func (m *Main) configOrDefault(fs *flag.FlagSet, flagValue string) (string, error) {
	p, err := service.ConfigOrDefault(flagValue, "", m.Getenv)
	if err != nil {
		fs.Usage()
	}
	return p, err
}

// instanceConfig is -c, or with --name NAME and no -c that instance's
// default config (for commands that otherwise default to the default's).
func (m *Main) instanceConfig(path, instance string) string {
	if path == "" && instance != "" {
		return service.InstanceConfigPath(runtime.GOOS, instance, m.Getenv)
	}
	return path
}

// instanceFlag adds --name to a service command's flags.
func instanceFlag(fs *flag.FlagSet) *string { return fs.String("name", "", service.InstanceFlagHelp()) }

func (m *Main) runInstall(ctx context.Context, args []string) error {
	fs := m.flags("install", "install -c FILE [--user NAME] [--name NAME]")
	cfgPath := fs.String("c", "", "config file (default: the platform's, e.g. /etc/ppsync/config.toml; with --name NAME: /etc/ppsync/NAME.toml)")
	instance := instanceFlag(fs)
	userName := fs.String("user", service.DefaultUser(), "account the service runs as (Windows: DOMAIN\\name, a managed service account DOMAIN\\name$, or by default NT SERVICE\\ppsync; a password is asked for, never taken from the command line)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := service.CheckInstance(*instance); err != nil {
		return err
	}
	path, err := service.ConfigOrDefault(*cfgPath, *instance, m.Getenv)
	if err != nil {
		return err
	}
	cfg, err := m.console().LoadConfig(path)
	if err != nil {
		return err
	}
	return service.InstallCommand(ctx, cfg, *userName, *instance, m.Getenv, os.Stdin, m.Stderr, m.Stdout)
}

// serviceControl runs start, stop, restart or uninstall.
func (m *Main) serviceControl(action string) func(*Main, context.Context, []string) error {
	return func(m *Main, ctx context.Context, args []string) error {
		fs := m.flags(action, action+" [--name NAME]")
		instance := instanceFlag(fs)
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		return service.ControlCommand(ctx, action, *instance, m.Getenv, m.Stdout)
	}
}

// runService runs the daemon under the Windows Service Control Manager,
// logging as [log] says to a rotating file and warnings and errors to the
// Event Log.
func (m *Main) runService(cfg *config.Config, key, instance string) error {
	return service.RunWindows(cfg, instance, m.Getenv,
		func(w io.Writer) slog.Handler { return logx.New(w, cfg.Log).Handler() },
		func(ctx context.Context, log *slog.Logger) error {
			sum, err := daemon.Run(ctx, daemon.Options{Config: cfg, APIKey: key, Logger: log})
			if err == nil {
				log.Info("ppsync stopped", "done", sum.Done, "failed", sum.Failed+sum.Invalid, "waiting", sum.Waiting)
			}
			return err
		}, os.Exit)
}
