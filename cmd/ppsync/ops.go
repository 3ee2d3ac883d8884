package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/webhook"
)

// adminURL is where a running daemon of cfg answers ("" when disabled).
func adminURL(cfg *config.Config) string {
	if cfg.Admin.Listen == "off" {
		return ""
	}
	host, port, err := net.SplitHostPort(cfg.Admin.Listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

var errNoDaemon = errors.New("no daemon answered")

// askDaemon calls the running daemon's admin endpoint.
func askDaemon(ctx context.Context, cfg *config.Config, method, path string, body, out any) error {
	return askDaemonWithin(ctx, 3*time.Second, cfg, method, path, body, out)
}

func askDaemonWithin(ctx context.Context, timeout time.Duration, cfg *config.Config, method, path string, body, out any) error {
	base := adminURL(cfg)
	if base == "" {
		return errNoDaemon
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDaemon, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin endpoint %s%s: HTTP %d: %s", base, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s%s did not answer like ppsync (%v)", errNoDaemon, base, path, err)
	}
	return nil
}

// openStateIdle opens the state when no daemon holds it.
func openStateIdle(cfg *config.Config) (*state.Store, error) {
	st, err := state.Open(cfg.State.Path, 300*time.Millisecond)
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
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	var rep report.Report
	err = askDaemon(ctx, cfg, http.MethodGet, "/status", nil, &rep)
	if errors.Is(err, errNoDaemon) {
		st, oerr := openStateIdle(cfg)
		if oerr != nil {
			return oerr
		}
		rep, err = report.FromState(st, cfg, false)
		st.Close()
	}
	if err != nil {
		return err
	}
	rep.Service = serviceStatus(cfg.File)
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(m.Stdout, rep)
	return nil
}

func printStatus(w io.Writer, r report.Report) {
	if r.Daemon.Running {
		fmt.Fprintf(w, "ppsync %s is running (pid %d, up %s)\n", r.Daemon.Version, r.Daemon.PID, time.Since(r.Daemon.Started).Round(time.Second))
	} else {
		fmt.Fprintln(w, "ppsync is not running (figures below are from the state file)")
	}
	fmt.Fprintf(w, "service:   %s\n", r.Service)
	if r.CreditsAvailable != nil {
		fmt.Fprintf(w, "credits:   %d", *r.CreditsAvailable)
		if r.WaitingForCredits {
			fmt.Fprint(w, " (submissions are WAITING for credits: buy more in the PerfectParser dashboard)")
		}
		fmt.Fprintln(w)
	}
	if r.Daemon.Running {
		last := "never"
		if !r.LastPoll.IsZero() {
			last = time.Since(r.LastPoll).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(w, "last poll: %s", last)
		if r.LastPollError != "" {
			fmt.Fprintf(w, " (last error: %s)", r.LastPollError)
		}
		fmt.Fprintf(w, "; %d jobs in flight, %d documents queued\n", r.JobsInFlight, r.QueueDepth)
	}
	fmt.Fprintf(w, "state:     %s (schema %d)\n", r.State.Path, r.State.Schema)
	for _, in := range r.Inboxes {
		health := ""
		if in.Healthy != nil {
			health = ", healthy"
			if !*in.Healthy {
				health = ", UNREACHABLE: " + in.Error
			}
		}
		fmt.Fprintf(w, "\ninbox %s (parser %s, watch %s%s)\n", in.Path, in.ParserID, in.Watch, health)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		var heads, vals []string
		for _, s := range report.States {
			heads = append(heads, strings.ReplaceAll(s, "_", " "))
			vals = append(vals, fmt.Sprint(in.Files[s]))
		}
		fmt.Fprintln(tw, "  "+strings.Join(heads, "\t"))
		fmt.Fprintln(tw, "  "+strings.Join(vals, "\t"))
		tw.Flush()
		if len(in.LastErrors) > 0 {
			fmt.Fprintln(w, "  last problems:")
			for _, e := range in.LastErrors {
				fmt.Fprintf(w, "    %s  %s: %s %s\n", e.At.Local().Format("2006-01-02 15:04"), e.Path, e.Code, e.Reason)
			}
		}
	}
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
	fs := m.flags("retry", "retry -c FILE [--failed] [PATH ...]")
	cfgPath := fs.String("c", "", "config file (required)")
	failed := fs.Bool("failed", false, "send every failed or refused file through again")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	paths := fs.Args()
	if !*failed && len(paths) == 0 {
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
	var ans admin.RetryAnswer
	err = askDaemon(ctx, cfg, http.MethodPost, "/retry", admin.RetryRequest{Paths: paths, Failed: *failed}, &ans)
	running := err == nil
	if errors.Is(err, errNoDaemon) {
		st, oerr := openStateIdle(cfg)
		if oerr != nil {
			return oerr
		}
		ans.Retried, err = uploader.MarkRetry(st, paths, *failed)
		st.Close()
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
		return &exitError{code: exitFailed, err: fmt.Errorf("not retried (not known as failed or refused): %s", strings.Join(missing, ", "))}
	}
	return nil
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

type checkRow struct {
	what, result, fix string
	ok                bool
}

func (m *Main) runCheck(ctx context.Context, args []string) error {
	fs := m.flags("check", "check -c FILE")
	cfgPath := fs.String("c", "", "config file (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(*cfgPath)
	if err != nil {
		fs.Usage()
		return err
	}
	var rows []checkRow
	add := func(ok bool, what, result, fix string) { rows = append(rows, checkRow{what, result, fix, ok}) }
	cfg, err := config.Load(path)
	if err != nil {
		add(false, "config "+path, err.Error(), "fix the lines named above (config.example.toml documents every key)")
		return m.printChecks(rows)
	}
	add(true, "config "+cfg.File, "valid", "")
	for _, w := range cfg.Warnings {
		add(true, "config warning", w, "")
	}
	if w := cfg.KeyFileWarning(); w != "" {
		add(false, "api key file", w, "chmod 600 the key file")
	}
	key, err := cfg.ResolveAPIKey(m.Getenv)
	var client *api.Client
	if err != nil {
		add(false, "api key", err.Error(), "set the key as the config says")
	} else if client, err = api.New(api.Options{BaseURL: cfg.API.BaseURL, APIKey: key, UserAgent: version.UserAgent(),
		RequestsPerWindow: cfg.API.RequestsPerWindow, SubmissionsPerWindow: cfg.API.SubmissionsPerWindow,
		RateWindow: cfg.API.RateWindow.Duration, MaxRetries: 2, RequestTimeout: 15 * time.Second}); err != nil {
		add(false, "api", err.Error(), "fix [api] base_url")
	}
	if client != nil {
		m.checkAPI(ctx, client, cfg, add)
	}
	for _, in := range cfg.Inboxes {
		checkInbox(in, add)
	}
	checkState(cfg, add)
	if cfg.Webhook.Enabled {
		m.checkWebhook(ctx, cfg, client, add)
	}
	return m.printChecks(rows)
}

func (m *Main) checkAPI(ctx context.Context, c *api.Client, cfg *config.Config, add func(bool, string, string, string)) {
	me, err := c.Me(ctx)
	if err != nil {
		fix := "check the network and base_url"
		if api.IsUnauthorized(err) {
			fix = "use a valid key from the PerfectParser dashboard (Integrations → API Keys)"
		}
		add(false, "api "+cfg.API.BaseURL, err.Error(), fix)
		return
	}
	add(true, "api key", fmt.Sprintf("accepted: key %q of %s", me.KeyName, me.Email), "")
	if me.KeyExpiresAt != nil {
		add(true, "api key expiry", "expires "+*me.KeyExpiresAt, "")
	}
	cr, err := c.Credits(ctx)
	if err != nil {
		add(false, "credits", err.Error(), "")
	} else {
		var packs []string
		for _, p := range cr.Purchases {
			exp := "no expiry"
			if p.ExpiresAt != nil {
				exp = "expires " + (*p.ExpiresAt)[:min(10, len(*p.ExpiresAt))]
			}
			packs = append(packs, fmt.Sprintf("%s: %d of %d left, %s", p.Plan, p.Remaining, p.Credits, exp))
		}
		res := fmt.Sprintf("%d available", cr.Available)
		if len(packs) > 0 {
			res += " (" + strings.Join(packs, "; ") + ")"
		}
		add(cr.Available > 0, "credits", res, "buy credits in the PerfectParser dashboard; ppsync waits for them meanwhile")
	}
	seen := map[string]bool{}
	for _, in := range cfg.Inboxes {
		if seen[in.ParserID] {
			continue
		}
		seen[in.ParserID] = true
		p, err := c.Parser(ctx, in.ParserID)
		switch {
		case api.IsParserNotFound(err) || api.IsNotFound(err):
			add(false, "parser "+in.ParserID, "not found on this account", "fix parser_id of inbox "+in.Path)
		case err != nil:
			add(false, "parser "+in.ParserID, err.Error(), "")
		case len(p.Schema) == 0 || string(p.Schema) == "{}" || string(p.Schema) == "null":
			add(false, "parser "+in.ParserID, fmt.Sprintf("%q has no schema yet (PARSER_NOT_CONFIGURED)", p.Name), "add fields or run detect-fields in the dashboard")
		default:
			add(true, "parser "+in.ParserID, fmt.Sprintf("%q, %d fields", p.Name, len(p.Fields)), "")
		}
	}
}

func checkInbox(in config.Inbox, add func(bool, string, string, string)) {
	what := "inbox " + in.Path
	entries, err := os.ReadDir(in.Path)
	if err != nil {
		add(false, what, "not readable: "+err.Error(), "grant the ppsync user read access (and on Windows, use a UNC path for shares)")
		return
	}
	probe, err := os.CreateTemp(in.Path, ".ppsync-check-*.tmp")
	if err != nil {
		add(false, what, "not writable: "+err.Error(), "grant the ppsync user write access: results are written beside the files")
		return
	}
	probe.Close()
	os.Remove(probe.Name())
	info, err := fsinfo.Of(in.Path)
	kind := info.Kind
	if err != nil {
		kind = "unknown filesystem"
	}
	res := fmt.Sprintf("readable, writable, %d entries, %s, watch %s", len(entries), kind, in.Watch)
	if info.Network && in.Watch != config.WatchPoll {
		add(false, what, res+": a network share sends no change events for files written by other machines",
			`set watch = "poll" and rescan_interval = "10s" for this inbox`)
		return
	}
	if fsinfo.IsMappedDrive(in.Path) {
		add(false, what, res+": a mapped drive letter is invisible to a Windows service", `use the UNC path (\\server\share\folder)`)
		return
	}
	add(true, what, res, "")
}

func checkState(cfg *config.Config, add func(bool, string, string, string)) {
	what := "state " + cfg.State.Path
	st, err := state.Open(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		add(true, what, "in use by a running ppsync (fine while the service runs)", "")
		return
	}
	if err != nil {
		add(false, what, err.Error(), "see the message; 'ppsync state check' tells more")
		return
	}
	defer st.Close()
	v, _ := st.Schema()
	if err := st.Check(); err != nil {
		add(false, what, err.Error(), "")
		return
	}
	if info, err := fsinfo.Of(filepath.Dir(cfg.State.Path)); err == nil && info.Network {
		add(false, what, "on a network filesystem ("+info.Kind+"): its locking and fsync cannot be trusted", "put [state] path on a local disk")
		return
	}
	add(true, what, fmt.Sprintf("writable, schema %d, consistent", v), "")
}

func (m *Main) printChecks(rows []checkRow) error {
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	bad := 0
	for _, r := range rows {
		mark := "ok"
		if !r.ok {
			mark = "PROBLEM"
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, r.what, r.result)
	}
	tw.Flush()
	if bad == 0 {
		fmt.Fprintln(m.Stdout, "\nall checks passed")
		return nil
	}
	fmt.Fprintln(m.Stdout, "\nhow to fix:")
	var fixes []string
	for _, r := range rows {
		if !r.ok && r.fix != "" {
			fixes = append(fixes, fmt.Sprintf("  - %s: %s", r.what, r.fix))
		}
	}
	sort.Strings(fixes)
	fmt.Fprintln(m.Stdout, strings.Join(fixes, "\n"))
	return &exitError{code: exitFailed, err: fmt.Errorf("%s found", plural(bad, "problem"))}
}

// checkWebhook asks a running daemon for a test delivery, or else reports
// the stored registration as the API sees it.
func (m *Main) checkWebhook(ctx context.Context, cfg *config.Config, client *api.Client, add func(bool, string, string, string)) {
	what := "webhook " + cfg.Webhook.PublicURL
	var ans admin.WebhookTestAnswer
	err := askDaemonWithin(ctx, 30*time.Second, cfg, http.MethodPost, "/webhook/test", nil, &ans)
	if err == nil {
		add(ans.OK, what, "test delivery: "+ans.Message, "make public_url reach the receiver at webhook.listen (reverse proxy, tunnel, TLS)")
		return
	}
	if !errors.Is(err, errNoDaemon) {
		add(false, what, err.Error(), "")
		return
	}
	st, err := state.Open(cfg.State.Path, 300*time.Millisecond)
	if err != nil {
		add(false, what, "cannot read the registration: "+err.Error(), "")
		return
	}
	reg, ok, err := webhook.Load(st)
	st.Close()
	switch {
	case err != nil:
		add(false, what, err.Error(), "")
	case !ok:
		add(true, what, "not registered yet: ppsync registers it at start and sends a test delivery", "")
	case client == nil:
		add(false, what, "registered as "+reg.WebhookID+", but the API cannot be asked without a key", "")
	default:
		wh, err := client.Webhook(ctx, reg.WebhookID)
		switch {
		case api.IsNotFound(err):
			add(false, what, "the stored subscription "+reg.WebhookID+" no longer exists at the API", "start ppsync: it registers a new one")
		case err != nil:
			add(false, what, err.Error(), "")
		default:
			res := fmt.Sprintf("registered as %s, active %v, %d recent deliveries; ppsync is not running, so no test delivery was sent", wh.WebhookID, wh.IsActive, len(wh.Deliveries))
			add(wh.IsActive, what, res, "start ppsync, then run check again to test a delivery")
		}
	}
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
		var ans admin.WebhookTestAnswer
		if err := askDaemonWithin(ctx, 30*time.Second, cfg, http.MethodPost, "/webhook/test", nil, &ans); err != nil {
			return fmt.Errorf("webhook test: %w (start ppsync first)", err)
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
	client, err := api.New(api.Options{BaseURL: cfg.API.BaseURL, APIKey: key, UserAgent: version.UserAgent(),
		RequestsPerWindow: cfg.API.RequestsPerWindow, SubmissionsPerWindow: cfg.API.SubmissionsPerWindow, RateWindow: cfg.API.RateWindow.Duration})
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
