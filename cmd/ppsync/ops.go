package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/target"
	"github.com/ppsync/ppsync/internal/diagnose"
	"github.com/ppsync/ppsync/internal/service"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/webhook"
)

// targetOf is the installation the CLI acts on (internal/control/target);
// offline, a ledger rebuild's warnings go to stderr.
func (m *Main) targetOf(ctx context.Context, cfg *config.Config) (target.Target, error) {
	warn := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return target.Of(ctx, cfg, m.Getenv, warn)
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
	t, err := m.targetOf(ctx, cfg)
	if err != nil {
		return err
	}
	rep, err := t.Status(ctx)
	if err != nil {
		return err
	}
	rep.Service = service.Status(*instance)
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	listen := cfg.Admin.Listen
	if cfg.Admin.TLSCert != "" && listen != "off" {
		listen = "https://" + listen
	}
	rep.WriteText(m.Stdout, listen)
	if t.Running() {
		// A one-time link that signs the browser in to the status page.
		link, exp, err := t.Daemon.LoginLink(ctx)
		if err != nil {
			fmt.Fprintf(m.Stdout, "sign in:   (no sign-in link: %v)\n", err)
		} else {
			fmt.Fprintf(m.Stdout, "sign in:   %s\n           (opens the status page; works once, until %s)\n", link, exp.Local().Format("15:04:05"))
		}
	}
	return nil
}

// requireConfig loads -c, else the platform's default config.
func (m *Main) requireConfig(fs *flag.FlagSet, path string) (*config.Config, error) {
	p, err := m.configOrDefault(path)
	if err != nil {
		fs.Usage()
		return nil, err
	}
	return m.loadConfig(p)
}

func (m *Main) runRetry(ctx context.Context, args []string) error {
	fs := m.flags("retry", "retry -c FILE [--failed] [PATH ...] | retry -c FILE --reprocess [--yes] PATH ...")
	cfgPath := fs.String("c", "", "config file (required)")
	failed := fs.Bool("failed", false, "send every failed or refused file through again")
	reprocess := fs.Bool("reprocess", false, "process the named files again, finished (done) ones included; says what it costs first")
	yes := fs.Bool("yes", false, "with --reprocess: do not ask for confirmation")
	paths, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *reprocess && *failed:
		fs.Usage()
		return errors.New("retry: --reprocess and --failed do not go together: name the files to process again")
	case *reprocess && len(paths) == 0:
		fs.Usage()
		return errors.New("retry --reprocess: name the files to process again")
	case !*failed && len(paths) == 0:
		fs.Usage()
		return errors.New("retry: name files, or use --failed")
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	for i, p := range paths {
		if paths[i], err = filepath.Abs(p); err != nil {
			return err
		}
	}
	if *reprocess {
		return m.reprocess(ctx, cfg, paths, *yes)
	}
	t, err := m.targetOf(ctx, cfg)
	if err != nil {
		return err
	}
	ans, err := t.Retry(ctx, control.RetryRequest{Paths: paths, Failed: *failed})
	if err != nil {
		return err
	}
	for _, p := range ans.Retried {
		fmt.Fprintln(m.Stdout, "retry:", p)
	}
	var missing []string
	for _, p := range paths {
		if !slices.Contains(ans.Retried, p) {
			missing = append(missing, p)
		}
	}
	switch {
	case len(ans.Retried) == 0:
		fmt.Fprintln(m.Stdout, "nothing to retry: no failed or refused file matched")
	case t.Running():
		fmt.Fprintf(m.Stdout, "%s sent through again now.\n", cli.Plural(len(ans.Retried), "file"))
	default:
		fmt.Fprintf(m.Stdout, "%s will be sent through again when ppsync next runs.\n", cli.Plural(len(ans.Retried), "file"))
	}
	if len(missing) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("not retried (not known as failed or refused; to process a finished file again use --reprocess): %s", strings.Join(missing, ", "))}
	}
	return nil
}

// reprocess processes finished files again: it asks the daemon (or the
// state when none runs) what that costs, says so, asks for confirmation
// on a terminal unless yes, then marks them.
func (m *Main) reprocess(ctx context.Context, cfg *config.Config, paths []string, yes bool) error {
	t, err := m.targetOf(ctx, cfg)
	if err != nil {
		return err
	}
	plan, err := t.PlanReprocess(ctx, paths)
	if errors.Is(err, control.ErrNoState) {
		return &exitError{code: exitFailed, err: err}
	}
	if err != nil {
		return err
	}
	for _, p := range paths {
		if why, ok := plan.Skipped[p]; ok {
			fmt.Fprintf(m.Stderr, "skipped: %s: %s\n", p, why)
		}
	}
	if len(plan.Files) == 0 {
		return &exitError{code: exitFailed, err: errors.New("nothing to process again: none of the files is finished (done, failed or refused) and tracked")}
	}
	fmt.Fprintln(m.Stdout, reprocessCost(plan))
	if !yes {
		ok, err := cli.Confirm(m.Stdin, m.Stdout, "Process them again? [y/N] ")
		if errors.Is(err, cli.ErrNoTerminal) {
			return &exitError{code: exitFailed, err: fmt.Errorf("%w: add --yes to process the files again (and pay for them) without asking", err)}
		}
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(m.Stdout, "nothing changed")
			return nil
		}
	}
	ans, err := t.Reprocess(ctx, plan.Files)
	if err != nil {
		return err
	}
	done := ans.Reprocessed
	for _, p := range done {
		fmt.Fprintln(m.Stdout, "reprocess:", p)
	}
	if t.Running() {
		fmt.Fprintf(m.Stdout, "%s sent through again now.\n", cli.Plural(len(done), "file"))
	} else {
		fmt.Fprintf(m.Stdout, "%s will be processed again when ppsync next runs.\n", cli.Plural(len(done), "file"))
	}
	if len(done) < len(paths) {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s of %d not processed again (see above)", cli.Plural(len(paths)-len(done), "file"), len(paths))}
	}
	return nil
}

// reprocessCost says what processing the planned files again costs.
func reprocessCost(p control.ReprocessAnswer) string {
	s := fmt.Sprintf("Processing %s again costs %s (1 page = 1 credit)", cli.Plural(len(p.Files), "file"), cli.Plural(p.Pages, "credit"))
	if p.Unknown > 0 {
		s += fmt.Sprintf(", plus the pages of %s never counted", cli.Plural(p.Unknown, "file"))
	}
	return s + "; each is sent as a new job and charged again."
}

// --- check -------------------------------------------------------------------

func (m *Main) runCheck(ctx context.Context, args []string) error {
	fs := m.flags("check", "check -c FILE [--service-user NAME] [--unit FILE]")
	cfgPath := fs.String("c", "", "config file (required)")
	svcUser := fs.String("service-user", "", "as root, test the folders as this account (default: User= of the installed unit, else ppsync when it exists)")
	unit := fs.String("unit", "", "the systemd unit whose ReadWritePaths the folders are tested against (default: the installed ppsync.service; \"none\" for none)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(*cfgPath)
	if err != nil {
		fs.Usage()
		return err
	}
	res := diagnose.Run(ctx, path, diagnose.Options{Getenv: m.Getenv, ServiceUser: *svcUser, UnitFile: *unit})
	res.Write(m.Stdout)
	if n := res.Problems(); n > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s found", cli.Plural(n, "problem"))}
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
		t, err := m.targetOf(ctx, cfg)
		if err != nil {
			return fmt.Errorf("webhook test: %w", err)
		}
		ans, err := t.WebhookTest(ctx)
		switch {
		case errors.Is(err, control.ErrNotRunning) && t.Why == nil:
			return fmt.Errorf("webhook test: [admin] listen is \"off\" in %s: the test needs the running daemon's admin endpoint", cfg.File)
		case errors.Is(err, control.ErrNotRunning):
			return fmt.Errorf("webhook test: %w (start ppsync first)", t.Why)
		case err != nil:
			return fmt.Errorf("webhook test: %w", err)
		}
		if !ans.OK {
			return &exitError{code: exitFailed, err: errors.New("webhook test: " + ans.Message)}
		}
		fmt.Fprintln(m.Stdout, ans.Message)
		return nil
	}
	key, err := cfg.ResolveAPIKey(m.Getenv)
	if err != nil {
		return err
	}
	client, err := stageopts.NewClient(cfg, key)
	if err != nil {
		return err
	}
	id, err := webhook.RemoveAt(ctx, client, cfg.State.Path)
	if err != nil {
		return err
	}
	if id == "" {
		fmt.Fprintln(m.Stdout, "no webhook is registered")
		return nil
	}
	fmt.Fprintf(m.Stdout, "deleted webhook %s\n", id)
	return nil
}

// subcommand parses "GROUP SUB -c FILE" and loads the config. subs lists
// each sub-command with its one-line help.
func (m *Main) subcommand(group string, args []string, subs [][2]string) (string, *config.Config, error) {
	known := len(args) > 0 && slices.ContainsFunc(subs, func(s [2]string) bool { return s[0] == args[0] })
	if !known {
		for i, s := range subs {
			lead := "Usage:"
			if i > 0 {
				lead = "      "
			}
			fmt.Fprintf(m.Stderr, "%s ppsync %s %s -c FILE   %s\n", lead, group, s[0], s[1])
		}
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			about, _ := m.about(group)
			fmt.Fprintf(m.Stderr, "\n%s\n", about)
			return "", nil, flag.ErrHelp
		}
		return "", nil, cli.ErrUsage
	}
	sub := args[0]
	fs := m.flags(group+" "+sub, group+" "+sub+" -c FILE")
	cfgPath := fs.String("c", "", "config file")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return "", nil, err
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	return sub, cfg, err
}
