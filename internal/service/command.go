package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ppsync/ppsync/internal/config"
)

// InstallCommand is 'ppsync install' once the config is read: it checks
// that the instance does not share another's folders, installs the service
// (on Windows installs or upgrades it, a new account's password read from
// stdin after a prompt on prompt) and says on out what it did and how to
// start it.
func InstallCommand(ctx context.Context, cfg *config.Config, userName, instance string, getenv func(string) string,
	stdin *os.File, prompt, out io.Writer) error {
	if err := CheckInstanceConflicts(cfg, getenv); err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		if err := Install(cfg, userName, instance); err != nil {
			return err
		}
		fmt.Fprint(out, installedText(ServiceName(runtime.GOOS, instance), cfg.File, instance))
		return nil
	}
	plan, err := InstallWindows(ctx, cfg, userName, instance, getenv, stdin, prompt, out)
	if err != nil {
		return err
	}
	fmt.Fprint(out, installedWindowsText(plan, cfg.File, instance))
	return nil
}

// installedText says a systemd or launchd service is installed.
func installedText(name, cfgFile, instance string) string {
	return fmt.Sprintf("installed service %q with config %s\nstart it with: ppsync start%s\n", name, cfgFile, NameArg(instance))
}

// installedWindowsText says a Windows service is installed or upgraded.
func installedWindowsText(plan WindowsPlan, cfgFile, instance string) string {
	if plan.Upgrade {
		return fmt.Sprintf("upgraded service %q to %s, still running as %s, config %s\n", plan.Name, plan.Exe, plan.Account.Name, cfgFile)
	}
	return fmt.Sprintf("installed service %q (%s, delayed automatic start, restarts on failure) running as %s, config %s\nstart it with: ppsync start%s\n",
		plan.Name, plan.Exe, plan.Account.Name, cfgFile, NameArg(instance))
}

// ControlCommand is 'ppsync start|stop|restart|uninstall': Control, then
// a line on out saying it is done.
func ControlCommand(ctx context.Context, action, instance string, getenv func(string) string, out io.Writer) error {
	if err := Control(ctx, action, instance); err != nil {
		return err
	}
	fmt.Fprint(out, doneText(runtime.GOOS, action, instance, getenv))
	return nil
}

// doneText says action is done; a Windows uninstall names the folder it
// keeps.
func doneText(goos, action, instance string, getenv func(string) string) string {
	if action == "uninstall" && goos == "windows" {
		return fmt.Sprintf("uninstall: done (the config, the state and the logs in %s are kept)\n",
			filepath.Dir(InstanceConfigPath("windows", instance, getenv)))
	}
	return action + ": done\n"
}
