package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/diagnose"
)

// console is the terminal the internal/cli flows talk to.
func (m *Main) console() cli.Console {
	return cli.Console{Stdin: m.Stdin, Stdout: m.Stdout, Stderr: m.Stderr, Getenv: m.Getenv}
}

// configFlag adds -c to fs; load reads it (else the platform's default
// config), showing the usage when there is neither.
func (m *Main) configFlag(fs *flag.FlagSet, help string) (load func() (*config.Config, error)) {
	path := fs.String("c", "", help)
	return func() (*config.Config, error) { return m.requireConfig(fs, *path) }
}

// requireConfig loads -c, else the platform's default config.
func (m *Main) requireConfig(fs *flag.FlagSet, path string) (*config.Config, error) {
	p, err := m.configOrDefault(fs, path)
	if err != nil {
		return nil, err
	}
	return m.console().LoadConfig(p)
}

func (m *Main) runStatus(ctx context.Context, args []string) error {
	fs := m.flags("status", "status -c FILE [--json]")
	cfgPath := fs.String("c", "", "config file (required)")
	asJSON := fs.Bool("json", false, "print JSON (the same as the admin endpoint's /status)")
	instance := instanceFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := m.requireConfig(fs, m.instanceConfig(*cfgPath, *instance))
	if err != nil {
		return err
	}
	return m.console().Status(ctx, cfg, *instance, *asJSON)
}

func (m *Main) runRetry(ctx context.Context, args []string) error {
	fs := m.flags("retry", "retry -c FILE [--failed] [PATH ...] | retry -c FILE --reprocess [--yes] PATH ...")
	load := m.configFlag(fs, "config file (required)")
	failed := fs.Bool("failed", false, "send every failed or refused file through again")
	reprocess := fs.Bool("reprocess", false, "process the named files again, finished (done) ones included; says what it costs first")
	yes := fs.Bool("yes", false, "with --reprocess: do not ask for confirmation")
	paths, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *reprocess && *failed:
		err = errors.New("retry: --reprocess and --failed do not go together: name the files to process again")
	case *reprocess && len(paths) == 0:
		err = errors.New("retry --reprocess: name the files to process again")
	case !*failed && len(paths) == 0:
		err = errors.New("retry: name files, or use --failed")
	}
	if err != nil {
		fs.Usage()
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *reprocess {
		return m.console().Reprocess(ctx, cfg, paths, *yes)
	}
	return m.console().Retry(ctx, cfg, paths, *failed)
}

func (m *Main) runCheck(ctx context.Context, args []string) error {
	fs := m.flags("check", "check -c FILE [--service-user NAME] [--unit FILE]")
	cfgPath := fs.String("c", "", "config file (required)")
	svcUser := fs.String("service-user", "", "as root, test the folders as this account (default: User= of the installed unit, else ppsync when it exists)")
	unit := fs.String("unit", "", "the systemd unit whose ReadWritePaths the folders are tested against (default: the installed ppsync.service; \"none\" for none)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(fs, *cfgPath)
	if err != nil {
		return err
	}
	res := diagnose.Run(ctx, path, diagnose.Options{Getenv: m.Getenv, ServiceUser: *svcUser, UnitFile: *unit})
	res.Write(m.Stdout)
	if n := res.Problems(); n > 0 {
		return cli.Failed(fmt.Errorf("%s found", cli.Plural(n, "problem")))
	}
	return nil
}

func (m *Main) runWebhook(ctx context.Context, args []string) error {
	sub, cfg, err := m.subcommand("webhook", args, [][2]string{
		{"remove", "delete the subscription at the API (ppsync stopped)"},
		{"test", "ask the running daemon for a test delivery"},
	})
	if err != nil {
		return err
	}
	if sub == "test" {
		return m.console().WebhookTest(ctx, cfg)
	}
	return m.console().WebhookRemove(ctx, cfg)
}

func (m *Main) runLedger(ctx context.Context, args []string) error {
	_, cfg, err := m.subcommand("ledger", args, [][2]string{
		{"rebuild", "regenerate every inbox's ledger from its result files"},
	})
	if err != nil {
		return err
	}
	return m.console().RebuildLedgers(ctx, cfg)
}

// subcommand parses "GROUP SUB -c FILE" and loads the config. subs lists
// each sub-command with its one-line help.
func (m *Main) subcommand(group string, args []string, subs [][2]string) (string, *config.Config, error) {
	var usage strings.Builder
	names := make([]string, len(subs))
	for i, s := range subs {
		lead := "Usage:"
		if i > 0 {
			lead = "      "
		}
		fmt.Fprintf(&usage, "%s ppsync %s %s -c FILE   %s\n", lead, group, s[0], s[1])
		names[i] = s[0]
	}
	sub, args, err := m.action(group, args, names, usage.String(), false)
	if err != nil {
		return "", nil, err
	}
	fs := m.flags(group+" "+sub, group+" "+sub+" -c FILE")
	load := m.configFlag(fs, "config file")
	if err := cli.Parse(fs, args); err != nil {
		return "", nil, err
	}
	cfg, err := load()
	return sub, cfg, err
}
