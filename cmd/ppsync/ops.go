package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/apiconf"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/diagnose"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/webhook"
)

// openStateIdle opens the state when no daemon holds it (read-only
// unless write is set; only a write creates it).
func openStateIdle(cfg *config.Config, write bool) (*state.Store, error) {
	open := state.OpenReadOnly
	if write {
		open = state.Open
	}
	st, err := open(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return nil, fmt.Errorf("a running ppsync holds %s, but its admin endpoint (%s) did not answer: check [admin] listen in %s",
			cfg.State.Path, cfg.Admin.Listen, cfg.File)
	}
	return st, err
}

func (m *Main) runStatus(ctx context.Context, args []string) error {
	fs := m.flags("status", "status -c FILE [--json]")
	cfgPath := fs.String("c", "", "config file (required)")
	asJSON := fs.Bool("json", false, "print JSON (the same as the admin endpoint's /status)")
	instance := instanceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := m.requireConfig(fs, m.instanceConfig(*cfgPath, *instance))
	if err != nil {
		return err
	}
	rep, daemon, err := daemonStatus(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Service = serviceStatus(*instance)
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
	if daemon != nil {
		// A one-time link that signs the browser in to the status page.
		link, exp, err := daemon.LoginLink(ctx)
		if err != nil {
			fmt.Fprintf(m.Stdout, "sign in:   (no sign-in link: %v)\n", err)
		} else {
			fmt.Fprintf(m.Stdout, "sign in:   %s\n           (opens the status page; works once, until %s)\n", link, exp.Local().Format("15:04:05"))
		}
	}
	return nil
}

// daemonStatus asks the config's daemon, or reads the state file when
// none runs; the client is returned when the daemon answered.
func daemonStatus(ctx context.Context, cfg *config.Config) (report.Report, *admin.Client, error) {
	err := admin.ErrNoDaemon
	if c := admin.NewClient(cfg); c != nil {
		var rep report.Report
		if rep, err = c.Status(ctx); err == nil {
			return rep, c, nil
		}
	}
	if !errors.Is(err, admin.ErrNoDaemon) {
		return report.Report{}, nil, err
	}
	st, err := openStateIdle(cfg, false)
	if errors.Is(err, state.ErrNotCreated) {
		rep, _ := report.FromState(nil, cfg, false)
		return rep, nil, nil
	}
	if err != nil {
		return report.Report{}, nil, err
	}
	defer st.Close()
	rep, err := report.FromState(st, cfg, false)
	return rep, nil, err
}

// requireConfig loads -c, else the platform's default config.
func (m *Main) requireConfig(fs *flag.FlagSet, path string) (*config.Config, error) {
	p, err := m.configOrDefault(path)
	if err != nil {
		fs.Usage()
		return nil, err
	}
	return m.loadConfig(p, nil)
}

func (m *Main) runRetry(ctx context.Context, args []string) error {
	fs := m.flags("retry", "retry -c FILE [--failed] [PATH ...] | retry -c FILE --reprocess [--yes] PATH ...")
	cfgPath := fs.String("c", "", "config file (required)")
	failed := fs.Bool("failed", false, "send every failed or refused file through again")
	reprocess := fs.Bool("reprocess", false, "process the named files again, finished (done) ones included; says what it costs first")
	yes := fs.Bool("yes", false, "with --reprocess: do not ask for confirmation")
	paths, err := parseArgs(fs, args)
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
	var ans admin.RetryAnswer
	err = admin.ErrNoDaemon
	if c := admin.NewClient(cfg); c != nil {
		ans, err = c.Retry(ctx, admin.RetryRequest{Paths: paths, Failed: *failed})
	}
	running := err == nil
	if errors.Is(err, admin.ErrNoDaemon) {
		ans.Retried, err = retryIdle(cfg, paths, *failed)
	}
	if err != nil {
		return err
	}
	for _, p := range ans.Retried {
		fmt.Fprintln(m.Stdout, "retry:", p)
	}
	var missing []string
	for _, p := range paths {
		if !containsString(ans.Retried, p) {
			missing = append(missing, p)
		}
	}
	switch {
	case len(ans.Retried) == 0:
		fmt.Fprintln(m.Stdout, "nothing to retry: no failed or refused file matched")
	case running:
		fmt.Fprintf(m.Stdout, "%s sent through again now.\n", plural(len(ans.Retried), "file"))
	default:
		fmt.Fprintf(m.Stdout, "%s will be sent through again when ppsync next runs.\n", plural(len(ans.Retried), "file"))
	}
	if len(missing) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("not retried (not known as failed or refused; to process a finished file again use --reprocess): %s", strings.Join(missing, ", "))}
	}
	return nil
}

// reprocess processes finished files again: it asks the daemon (or reads
// the state when none runs) what that costs, says so, asks for
// confirmation on a terminal unless yes, then marks them.
func (m *Main) reprocess(ctx context.Context, cfg *config.Config, paths []string, yes bool) error {
	c := admin.NewClient(cfg)
	plan, err := admin.ReprocessAnswer{}, admin.ErrNoDaemon
	if c != nil {
		plan, err = c.Reprocess(ctx, admin.ReprocessRequest{Paths: paths})
	}
	running := err == nil
	var st *state.Store
	if errors.Is(err, admin.ErrNoDaemon) {
		if _, serr := os.Stat(cfg.State.Path); errors.Is(serr, os.ErrNotExist) {
			return &exitError{code: exitFailed, err: fmt.Errorf("nothing to process again: the state %s does not exist yet (ppsync has not run with %s)", cfg.State.Path, cfg.File)}
		}
		if st, err = openStateIdle(cfg, true); err != nil {
			return err
		}
		defer st.Close()
		var p uploader.Plan
		p, err = uploader.PlanReprocess(st, paths)
		plan = admin.ReprocessAnswer{Files: p.Files, Pages: p.Pages, Unknown: p.Unknown, Skipped: p.Skipped}
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
		ok, err := m.confirm("Process them again? [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(m.Stdout, "nothing changed")
			return nil
		}
	}
	var done []string
	if running {
		var ans admin.ReprocessAnswer
		ans, err = c.Reprocess(ctx, admin.ReprocessRequest{Paths: plan.Files, Confirm: true})
		done = ans.Reprocessed
	} else {
		done, err = uploader.MarkReprocess(st, plan.Files)
	}
	if err != nil {
		return err
	}
	for _, p := range done {
		fmt.Fprintln(m.Stdout, "reprocess:", p)
	}
	if running {
		fmt.Fprintf(m.Stdout, "%s sent through again now.\n", plural(len(done), "file"))
	} else {
		fmt.Fprintf(m.Stdout, "%s will be processed again when ppsync next runs.\n", plural(len(done), "file"))
	}
	if len(done) < len(paths) {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s of %d not processed again (see above)", plural(len(paths)-len(done), "file"), len(paths))}
	}
	return nil
}

// reprocessCost says what processing the planned files again costs.
func reprocessCost(p admin.ReprocessAnswer) string {
	s := fmt.Sprintf("Processing %s again costs %s (1 page = 1 credit)", plural(len(p.Files), "file"), plural(p.Pages, "credit"))
	if p.Unknown > 0 {
		s += fmt.Sprintf(", plus the pages of %s never counted", plural(p.Unknown, "file"))
	}
	return s + "; each is sent as a new job and charged again."
}

// confirm asks question on the terminal and reads y or yes. Without a
// terminal it refuses: spending credits needs --yes in a script.
func (m *Main) confirm(question string) (bool, error) {
	in := m.Stdin
	if in == nil {
		in = os.Stdin
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, &exitError{code: exitFailed, err: errors.New("not a terminal, so nobody can confirm: add --yes to process the files again (and pay for them) without asking")}
	}
	fmt.Fprint(m.Stdout, question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// retryIdle marks files for the next run in the state of a stopped
// daemon; a state not created yet holds nothing to retry.
func retryIdle(cfg *config.Config, paths []string, failed bool) ([]string, error) {
	if _, err := os.Stat(cfg.State.Path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	st, err := openStateIdle(cfg, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return uploader.MarkRetry(st, paths, failed)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// --- check -------------------------------------------------------------------

func (m *Main) runCheck(ctx context.Context, args []string) error {
	fs := m.flags("check", "check -c FILE [--service-user NAME] [--unit FILE]")
	cfgPath := fs.String("c", "", "config file (required)")
	svcUser := fs.String("service-user", "", "as root, test the folders as this account (default: User= of the installed unit, else ppsync when it exists)")
	unit := fs.String("unit", "", "the systemd unit whose ReadWritePaths the folders are tested against (default: the installed ppsync.service; \"none\" for none)")
	if err := parse(fs, args); err != nil {
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
		return &exitError{code: exitFailed, err: fmt.Errorf("%s found", plural(n, "problem"))}
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
		c := admin.NewClient(cfg)
		if c == nil {
			return fmt.Errorf("webhook test: [admin] listen is \"off\" in %s: the test needs the running daemon's admin endpoint", cfg.File)
		}
		ans, err := c.WebhookTest(ctx)
		if errors.Is(err, admin.ErrNoDaemon) {
			return fmt.Errorf("webhook test: %w (start ppsync first)", err)
		}
		if err != nil {
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
	client, err := apiconf.New(cfg, key)
	if err != nil {
		return err
	}
	st, err := state.Open(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return fmt.Errorf("ppsync is running and holds %s: stop it first (or turn webhooks off in the config and restart: it then deletes the subscription itself)", cfg.State.Path)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := webhook.Remove(ctx, client, st)
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
			for _, c := range m.commands() {
				if c.name == group {
					fmt.Fprintf(m.Stderr, "\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
				}
			}
			return "", nil, flag.ErrHelp
		}
		return "", nil, errUsage
	}
	sub := args[0]
	fs := m.flags(group+" "+sub, group+" "+sub+" -c FILE")
	cfgPath := fs.String("c", "", "config file")
	if err := parse(fs, args[1:]); err != nil {
		return "", nil, err
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	return sub, cfg, err
}
