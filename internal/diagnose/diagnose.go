// Package diagnose is the engine behind `ppsync check`: it checks a config
// the way the service will use it (key, credits, parsers, inboxes, state,
// webhook) and says, for each problem, how to fix it. It only reads: the
// state is opened read-only and never created, so a check run as root
// leaves nothing the service user cannot use.
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/fsinfo"
	instances "github.com/ppsync/ppsync/internal/service"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
	"github.com/ppsync/ppsync/internal/webhook"
)

// Check is one line of the result.
type Check struct {
	OK     bool
	What   string
	Result string
	Fix    string
}

// Result is every check, in the order they ran.
type Result struct {
	Checks []Check
}

func (r *Result) add(ok bool, what, result, fix string) {
	r.Checks = append(r.Checks, Check{OK: ok, What: what, Result: result, Fix: fix})
}

// Problems counts the failed checks.
func (r Result) Problems() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}

// Options says how to run the checks.
type Options struct {
	// Getenv finds the API key variable (os.Getenv in production).
	Getenv func(string) string
	// Transport overrides the API client's transport (tests).
	Transport http.RoundTripper
	// ServiceUser is the account the folders are tested as when the check
	// runs as root: "" takes the User= of the installed unit, else
	// DefaultServiceUser when that account exists.
	ServiceUser string
	// UnitFile is the systemd unit whose sandbox the folders are tested
	// against: "" finds the installed one (UnitPaths), "none" tests none.
	UnitFile string
	// OtherConfigs are the configs of the other instances on this host,
	// checked for a shared state file or admin address: nil finds them
	// where the services keep them (the service package's SiblingConfigPaths).
	OtherConfigs []string
}

// Run checks the config at path.
func Run(ctx context.Context, path string, o Options) Result {
	var r Result
	cfg, err := config.Load(path)
	if err != nil {
		r.add(false, "config "+path, err.Error(), "fix the lines named above (config.example.toml documents every key)")
		return r
	}
	r.add(true, "config "+cfg.File, "valid", "")
	for _, w := range cfg.Warnings {
		r.add(true, "config warning", w, "")
	}
	if w := cfg.KeyFileWarning(); w != "" {
		r.add(false, "api key file", w, "chmod 600 the file")
	}
	var client *api.Client
	key, err := cfg.ResolveAPIKey(o.Getenv)
	if err != nil {
		r.add(false, "api key", err.Error(), "set the key as the config says")
	} else if client, err = stageopts.NewClient(cfg, key, func(a *api.Options) {
		a.MaxRetries = 2
		a.Transport = o.Transport
	}); err != nil {
		r.add(false, "api", err.Error(), "fix [api] base_url")
	}
	if client != nil {
		checkAPI(ctx, &r, client, cfg, o.Getenv)
	}
	checkInstances(&r, cfg, o)
	svc := serviceOf(&r, o)
	for _, in := range cfg.Inboxes {
		checkInbox(&r, in, svc)
		checkFolders(&r, in, svc)
	}
	checkStateAccess(&r, cfg.State.Path, svc)
	checkState(&r, cfg)
	if cfg.Webhook.Enabled {
		checkWebhook(ctx, &r, cfg, client)
	}
	return r
}

// checkInstances reports another config on this host (another instance's)
// that keeps its state in the same file or listens on the same admin
// address: the two services would fight over the state's lock, or the
// second could not serve its page.
func checkInstances(r *Result, cfg *config.Config, o Options) {
	paths := o.OtherConfigs
	if paths == nil {
		paths = instances.SiblingConfigPaths(runtime.GOOS, o.Getenv, filepath.Glob)
	}
	var others []*config.Config
	for _, p := range paths {
		if oc, err := config.Load(p); err == nil && !sameConfig(oc.File, cfg.File) {
			others = append(others, oc)
		}
	}
	if len(others) == 0 {
		return
	}
	what := "other configs on this host"
	if err := instances.InstanceConflict(runtime.GOOS, cfg, others); err != nil {
		r.add(false, what, err.Error(), "one of the two services would not run: change the setting named, then start both")
		return
	}
	names := make([]string, len(others))
	for i, oc := range others {
		names[i] = oc.File
	}
	r.add(true, what, "no shared state file or admin address with "+strings.Join(names, ", "), "")
}

func sameConfig(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(filepath.Clean(a), filepath.Clean(b))
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

func checkAPI(ctx context.Context, r *Result, c *api.Client, cfg *config.Config, getenv func(string) string) {
	me, err := c.Me(ctx)
	if err != nil {
		fix := "check the network and base_url"
		if api.IsUnauthorized(err) {
			src := cfg.APIKeySource(getenv)
			fix = "the key comes from " + src.String() + ": " + src.Fix()
		}
		r.add(false, "api "+cfg.API.BaseURL, err.Error(), fix)
		return
	}
	r.add(true, "api key", fmt.Sprintf("accepted: key %q of %s", me.KeyName, me.Email), "")
	if me.KeyExpiresAt != nil {
		r.add(true, "api key expiry", "expires "+*me.KeyExpiresAt, "")
	}
	cr, err := c.Credits(ctx)
	if err != nil {
		r.add(false, "credits", err.Error(), "")
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
		r.add(cr.Available > 0, "credits", res, "buy credits in the PerfectParser dashboard; ppsync waits for them meanwhile")
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
			r.add(false, "parser "+in.ParserID, "not found on this account", "fix parser_id of inbox "+in.Path)
		case err != nil:
			r.add(false, "parser "+in.ParserID, err.Error(), "")
		case len(p.Schema) == 0 || string(p.Schema) == "{}" || string(p.Schema) == "null":
			r.add(false, "parser "+in.ParserID, fmt.Sprintf("%q has no schema yet (PARSER_NOT_CONFIGURED)", p.Name), "add fields or run detect-fields in the dashboard")
		default:
			r.add(true, "parser "+in.ParserID, fmt.Sprintf("%q, %d fields", p.Name, len(p.Fields)), "")
		}
	}
}

func checkInbox(r *Result, in config.Inbox, svc service) {
	what := "inbox " + in.Path
	entries, err := os.ReadDir(in.Path)
	if errors.Is(err, os.ErrNotExist) {
		r.add(false, what, "does not exist: the daemon reports it unhealthy and retries until it appears",
			"create the folder, mount its share, or fix [[inbox]] path")
		return
	}
	if err != nil {
		r.add(false, what, "not readable: "+err.Error(), "grant the ppsync user read access (and on Windows, use a UNC path for shares)")
		return
	}
	// The inbox takes the lease, and the results unless results_dir is set.
	if !svc.sandbox(r, what, in.Path) {
		return
	}
	if _, err := svc.access(in.Path, true); err != nil {
		r.add(false, what, fmt.Sprintf("%s: %v", svc.userName(), err),
			"give the service user read and write access to the folder (chown, chmod or an ACL): its lease and results are written there")
		return
	}
	info, err := fsinfo.Of(in.Path)
	kind := info.Kind
	if err != nil {
		kind = "unknown filesystem"
	}
	res := fmt.Sprintf("readable, writable, %d entries, %s, watch %s", len(entries), kind, in.Watch)
	how, fix := watchDecision(in, info, err)
	if fix != "" {
		r.add(false, what, res+": "+how, fix)
		return
	}
	res += "; " + how
	if fsinfo.IsMappedDrive(in.Path) {
		r.add(false, what, res+": a mapped drive letter is invisible to a Windows service", `use the UNC path (\\server\share\folder)`)
		return
	}
	r.add(true, what, res, "")
}

// watchDecision says how the daemon watches inbox in on its filesystem
// (info, err from fsinfo) and why; fix is set when that would miss the
// files other machines drop.
func watchDecision(in config.Inbox, info fsinfo.Info, err error) (how, fix string) {
	d := watcher.Decide(stageopts.Watcher(in), info, err)
	if err == nil && info.Network && in.Watch == config.WatchEvents {
		return "a network share sends no change events for files written by other machines",
			`set watch = "auto" (a share is then polled from the start) or "poll" for this inbox`
	}
	return "watched by " + d.Mode + ": " + d.Reason, ""
}

// checkState opens the state read-only: it never creates the file (a
// check run as root would leave a file the service user cannot open).
func checkState(r *Result, cfg *config.Config) {
	what := "state " + cfg.State.Path
	if info, err := fsinfo.Of(filepath.Dir(cfg.State.Path)); err == nil && info.Network {
		r.add(false, what, "on a network filesystem ("+info.Kind+"): its locking and fsync cannot be trusted", "put [state] path on a local disk")
		return
	}
	st, err := state.OpenReadOnly(cfg.State.Path, 300*time.Millisecond)
	switch {
	case errors.Is(err, state.ErrNotCreated):
		r.add(true, what, "not created yet; the service creates it when it first starts", "")
		return
	case errors.Is(err, state.ErrLocked):
		r.add(true, what, "in use by a running ppsync (fine while the service runs)", "")
		return
	case errors.Is(err, os.ErrPermission):
		r.add(true, what, "exists, but this user cannot read it (fine when the service user owns it)", "")
		return
	case err != nil:
		r.add(false, what, err.Error(), "see the message; 'ppsync state check' tells more")
		return
	}
	defer st.Close()
	v, _ := st.Schema()
	if err := st.Check(); err != nil {
		r.add(false, what, err.Error(), "")
		return
	}
	r.add(true, what, fmt.Sprintf("schema %d, consistent", v), "")
}

// checkWebhook asks the running daemon for a test delivery, or else
// reports the stored registration as the API sees it.
func checkWebhook(ctx context.Context, r *Result, cfg *config.Config, client *api.Client) {
	what := "webhook " + cfg.Webhook.PublicURL
	err := admin.ErrNoDaemon
	if ac := admin.NewClient(cfg); ac != nil {
		var ans control.WebhookTestAnswer
		ans, err = ac.WebhookTest(ctx)
		if err == nil {
			r.add(ans.OK, what, "test delivery: "+ans.Message, "make public_url reach the receiver at webhook.listen (reverse proxy, tunnel, TLS)")
			return
		}
	}
	if !errors.Is(err, admin.ErrNoDaemon) {
		r.add(false, what, err.Error(), "")
		return
	}
	st, err := state.OpenReadOnly(cfg.State.Path, 300*time.Millisecond)
	if errors.Is(err, state.ErrNotCreated) {
		r.add(true, what, "not registered yet: ppsync registers it at start and sends a test delivery", "")
		return
	}
	if err != nil {
		r.add(false, what, "cannot read the registration: "+err.Error(), "")
		return
	}
	reg, ok, err := webhook.Load(st)
	st.Close()
	switch {
	case err != nil:
		r.add(false, what, err.Error(), "")
	case !ok:
		r.add(true, what, "not registered yet: ppsync registers it at start and sends a test delivery", "")
	case client == nil:
		r.add(false, what, "registered as "+reg.WebhookID+", but the API cannot be asked without a key", "")
	default:
		wh, err := client.Webhook(ctx, reg.WebhookID)
		switch {
		case api.IsNotFound(err):
			r.add(false, what, "the stored subscription "+reg.WebhookID+" no longer exists at the API", "start ppsync: it registers a new one")
		case err != nil:
			r.add(false, what, err.Error(), "")
		default:
			res := fmt.Sprintf("registered as %s, active %v, %d recent deliveries; ppsync is not running, so no test delivery was sent", wh.WebhookID, wh.IsActive, len(wh.Deliveries))
			r.add(wh.IsActive, what, res, "start ppsync, then run check again to test a delivery")
		}
	}
}

// Write prints the checks as a table, then the fixes of the problems.
func (r Result) Write(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "PROBLEM"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, c.What, c.Result)
	}
	tw.Flush()
	if r.Problems() == 0 {
		fmt.Fprintln(w, "\nall checks passed")
		return
	}
	fmt.Fprintln(w, "\nhow to fix:")
	var fixes []string
	for _, c := range r.Checks {
		if !c.OK && c.Fix != "" {
			fixes = append(fixes, fmt.Sprintf("  - %s: %s", c.What, c.Fix))
		}
	}
	sort.Strings(fixes)
	fmt.Fprintln(w, strings.Join(fixes, "\n"))
}
