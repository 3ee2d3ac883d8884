package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/target"
	"github.com/ppsync/ppsync/internal/service"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/webhook"
)

// Console is the terminal a command runs at: where confirmations are read
// and answers and warnings written, and the environment.
type Console struct {
	// Stdin answers confirmations (nil means os.Stdin; only a terminal can
	// confirm).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// LoadConfig reads the config; its warnings go to Stderr as "warning:"
// lines.
func (c Console) LoadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	for _, w := range append(slices.Clip(cfg.Warnings), cfg.KeyFileWarning()) {
		if w != "" {
			fmt.Fprintln(c.Stderr, "warning:", w)
		}
	}
	return cfg, nil
}

// Target is the installation of cfg the command acts on
// (internal/control/target); offline, a ledger rebuild's warnings go to
// Stderr.
func (c Console) Target(ctx context.Context, cfg *config.Config) (target.Target, error) {
	warn := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return target.Of(ctx, cfg, c.Getenv, warn)
}

// targetOf is Target, and paths made absolute (the state keys files by
// absolute path).
func (c Console) targetOf(ctx context.Context, cfg *config.Config, paths []string) (target.Target, []string, error) {
	paths, err := control.AbsPaths(paths)
	if err != nil {
		return target.Target{}, nil, err
	}
	t, err := c.Target(ctx, cfg)
	return t, paths, err
}

// Status is 'ppsync status': the report of cfg's installation, with the
// state of the service instance, and a sign-in link when the daemon runs.
func (c Console) Status(ctx context.Context, cfg *config.Config, instance string, asJSON bool) error {
	t, err := c.Target(ctx, cfg)
	if err != nil {
		return err
	}
	rep, err := t.Status(ctx)
	if err != nil {
		return err
	}
	rep.Service = service.Status(instance)
	if asJSON {
		return WriteJSON(c.Stdout, rep)
	}
	listen := cfg.Admin.Listen
	if cfg.Admin.TLSCert != "" && listen != "off" {
		listen = "https://" + listen
	}
	rep.WriteText(c.Stdout, listen)
	if t.Running() {
		// A one-time link that signs the browser in to the status page.
		link, exp, err := t.Daemon.LoginLink(ctx)
		if err != nil {
			fmt.Fprintf(c.Stdout, "sign in:   (no sign-in link: %v)\n", err)
		} else {
			fmt.Fprintf(c.Stdout, "sign in:   %s\n           (opens the status page; works once, until %s)\n", link, exp.Local().Format("15:04:05"))
		}
	}
	return nil
}

// Retry is 'ppsync retry': paths, or every failed or refused file, sent
// through again.
func (c Console) Retry(ctx context.Context, cfg *config.Config, paths []string, failed bool) error {
	t, paths, err := c.targetOf(ctx, cfg, paths)
	if err != nil {
		return err
	}
	return retry(ctx, c.Stdout, t, t.Running(), control.RetryRequest{Paths: paths, Failed: failed})
}

func retry(ctx context.Context, out io.Writer, ctl control.Control, running bool, req control.RetryRequest) error {
	ans, err := ctl.Retry(ctx, req)
	if err != nil {
		return err
	}
	for _, p := range ans.Retried {
		fmt.Fprintln(out, "retry:", p)
	}
	var missing []string
	for _, p := range req.Paths {
		if !slices.Contains(ans.Retried, p) {
			missing = append(missing, p)
		}
	}
	switch {
	case len(ans.Retried) == 0:
		fmt.Fprintln(out, "nothing to retry: no failed or refused file matched")
	case running:
		fmt.Fprintf(out, "%s sent through again now.\n", Plural(len(ans.Retried), "file"))
	default:
		fmt.Fprintf(out, "%s will be sent through again when ppsync next runs.\n", Plural(len(ans.Retried), "file"))
	}
	if len(missing) > 0 {
		return Failed(fmt.Errorf("not retried (not known as failed or refused; to process a finished file again use --reprocess): %s", strings.Join(missing, ", ")))
	}
	return nil
}

// Reprocess is 'ppsync retry --reprocess': it asks the daemon (or the
// state when none runs) what processing paths again costs,
// says so, asks for confirmation on a terminal unless yes, then marks
// them.
func (c Console) Reprocess(ctx context.Context, cfg *config.Config, paths []string, yes bool) error {
	t, paths, err := c.targetOf(ctx, cfg, paths)
	if err != nil {
		return err
	}
	confirm := func(question string) (bool, error) { return Confirm(c.Stdin, c.Stdout, question) }
	if yes {
		confirm = nil
	}
	return reprocess(ctx, c.Stdout, c.Stderr, t, t.Running(), paths, confirm)
}

// reprocess asks confirm (nil: do not ask) once the cost is said.
func reprocess(ctx context.Context, out, errOut io.Writer, ctl control.Control, running bool, paths []string, confirm func(string) (bool, error)) error {
	plan, err := ctl.PlanReprocess(ctx, paths)
	if errors.Is(err, control.ErrNoState) {
		return Failed(err)
	}
	if err != nil {
		return err
	}
	for _, p := range paths {
		if why, ok := plan.Skipped[p]; ok {
			fmt.Fprintf(errOut, "skipped: %s: %s\n", p, why)
		}
	}
	if len(plan.Files) == 0 {
		return Failed(errors.New("nothing to process again: none of the files is finished (done, failed or refused) and tracked"))
	}
	fmt.Fprintln(out, ReprocessCost(plan))
	if confirm != nil {
		ok, err := confirm("Process them again? [y/N] ")
		if errors.Is(err, ErrNoTerminal) {
			return Failed(fmt.Errorf("%w: add --yes to process the files again (and pay for them) without asking", err))
		}
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(out, "nothing changed")
			return nil
		}
	}
	ans, err := ctl.Reprocess(ctx, plan.Files)
	if err != nil {
		return err
	}
	done := ans.Reprocessed
	for _, p := range done {
		fmt.Fprintln(out, "reprocess:", p)
	}
	if running {
		fmt.Fprintf(out, "%s sent through again now.\n", Plural(len(done), "file"))
	} else {
		fmt.Fprintf(out, "%s will be processed again when ppsync next runs.\n", Plural(len(done), "file"))
	}
	if len(done) < len(paths) {
		return Failed(fmt.Errorf("%s of %d not processed again (see above)", Plural(len(paths)-len(done), "file"), len(paths)))
	}
	return nil
}

// ReprocessCost says what processing the planned files again costs.
func ReprocessCost(p control.ReprocessAnswer) string {
	s := fmt.Sprintf("Processing %s again costs %s (1 page = 1 credit)", Plural(len(p.Files), "file"), Plural(p.Pages, "credit"))
	if p.Unknown > 0 {
		s += fmt.Sprintf(", plus the pages of %s never counted", Plural(p.Unknown, "file"))
	}
	return s + "; each is sent as a new job and charged again."
}

// WebhookTest is 'ppsync webhook test': a test delivery by the running
// daemon.
func (c Console) WebhookTest(ctx context.Context, cfg *config.Config) error {
	t, err := c.Target(ctx, cfg)
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
		return Failed(errors.New("webhook test: " + ans.Message))
	}
	fmt.Fprintln(c.Stdout, ans.Message)
	return nil
}

// WebhookRemove is 'ppsync webhook remove': the subscription deleted at
// the API (ppsync stopped).
func (c Console) WebhookRemove(ctx context.Context, cfg *config.Config) error {
	key, err := cfg.ResolveAPIKey(c.Getenv)
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
		fmt.Fprintln(c.Stdout, "no webhook is registered")
		return nil
	}
	fmt.Fprintf(c.Stdout, "deleted webhook %s\n", id)
	return nil
}

// RebuildLedgers is 'ppsync ledger rebuild': the running daemon rebuilds
// with its API client; offline, the parser's schema gives the columns when
// the key resolves, else the documents' own keys do.
func (c Console) RebuildLedgers(ctx context.Context, cfg *config.Config) error {
	t, err := c.Target(ctx, cfg)
	if err != nil {
		return err
	}
	return rebuildLedgers(ctx, c.Stdout, t, cfg.File)
}

func rebuildLedgers(ctx context.Context, out io.Writer, ctl control.Control, cfgFile string) error {
	ans, err := ctl.RebuildLedgers(ctx)
	for _, r := range ans.Rebuilt {
		fmt.Fprintf(out, "ledger %s: %d documents (inbox %s)\n", r.Ledger, r.Documents, r.Inbox)
		if r.SchemaNote != "" {
			fmt.Fprintf(out, "  columns from the documents' keys, not the parser's schema: %s\n", r.SchemaNote)
		}
	}
	if err != nil {
		return Failed(err)
	}
	if len(ans.Rebuilt) == 0 {
		return Failed(errors.New("no inbox in " + cfgFile + " has a ledger: add ledger = \"invoices.csv\" to an [[inbox]]"))
	}
	return nil
}
