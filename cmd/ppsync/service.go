package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/logx"
	"github.com/ppsync/ppsync/internal/service"
)

// configOrDefault returns -c, else the platform default when it exists.
func (m *Main) configOrDefault(flagValue string) (string, error) {
	return service.ConfigOrDefault(flagValue, "", m.Getenv)
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
	cfg, err := m.loadConfig(path)
	if err != nil {
		return err
	}
	if err := service.CheckInstanceConflicts(cfg, m.Getenv); err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		if err := service.Install(cfg, *userName, *instance); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "installed service %q with config %s\nstart it with: ppsync start%s\n", service.ServiceName(runtime.GOOS, *instance), cfg.File, service.NameArg(*instance))
		return nil
	}
	plan, err := service.InstallWindows(ctx, cfg, *userName, *instance, m.Getenv, os.Stdin, m.Stderr, m.Stdout)
	if err != nil {
		return err
	}
	if plan.Upgrade {
		fmt.Fprintf(m.Stdout, "upgraded service %q to %s, still running as %s, config %s\n", plan.Name, plan.Exe, plan.Account.Name, cfg.File)
		return nil
	}
	fmt.Fprintf(m.Stdout, "installed service %q (%s, delayed automatic start, restarts on failure) running as %s, config %s\nstart it with: ppsync start%s\n",
		plan.Name, plan.Exe, plan.Account.Name, cfg.File, service.NameArg(*instance))
	return nil
}

// serviceControl runs start, stop, restart or uninstall.
func (m *Main) serviceControl(action string) func(*Main, context.Context, []string) error {
	return func(m *Main, ctx context.Context, args []string) error {
		fs := m.flags(action, action+" [--name NAME]")
		instance := instanceFlag(fs)
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if err := service.Control(ctx, action, *instance); err != nil {
			return err
		}
		if action == "uninstall" && runtime.GOOS == "windows" {
			fmt.Fprintf(m.Stdout, "uninstall: done (the config, the state and the logs in %s are kept)\n",
				filepath.Dir(service.InstanceConfigPath("windows", *instance, m.Getenv)))
			return nil
		}
		fmt.Fprintf(m.Stdout, "%s: done\n", action)
		return nil
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
