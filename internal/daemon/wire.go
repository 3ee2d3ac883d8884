package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/activity/history"
	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/notify"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/reconcile"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/watcher"
	"github.com/ppsync/ppsync/internal/webhook"
)

// pipeline is one run's stages, wired, and the components that run them.
type pipeline struct {
	o           Options
	st          *state.Store
	watchers    []*watcher.Watcher
	leases      *lease.Keeper
	unreachable faultList
	// watchersDone is closed once every watcher has returned.
	watchersDone chan struct{}
	components   []Component
}

// wire builds every stage of a run over st from o, and lists them as
// components in the order they recover and start (docs/components.md). It
// reads the state but changes nothing: what a stage changes at start-up is
// its Recover.
func wire(st *state.Store, o Options, log *slog.Logger) (*pipeline, error) {
	cfg := o.Config
	cannot := func(err error) error {
		return fmt.Errorf("%w: reading state %s: %w", ErrCannotRun, cfg.State.Path, err)
	}
	p := &pipeline{o: o, st: st, watchersDone: make(chan struct{})}
	known, err := reconcile.Known(st, inboxRoots(cfg.Inboxes))
	if err != nil {
		return nil, cannot(err)
	}
	p.watchers = make([]*watcher.Watcher, len(cfg.Inboxes))
	for i, in := range cfg.Inboxes {
		p.watchers[i] = watcher.New(watcher.Options{Index: i, Inbox: stageopts.Watcher(in), Once: o.Once, Known: known[in.Path],
			Logger: log.With("component", "watcher")})
	}
	// The watchers' events pass the lease keeper: the files of an inbox
	// whose lease is not held wait until it is. An event on its way counts
	// as a file still settling, so a partial batch does not leave while it is.
	found, events := make(chan watcher.Event, 256), make(chan watcher.Event, 256)
	var fin *finish.Finisher
	p.leases = lease.NewKeeper(lease.KeeperOptions{StatePath: cfg.State.Path, TTL: o.LeaseTTL, Watchers: p.watchers,
		Store: st, Log: log, Once: o.Once, In: found, Out: events, Healed: func(int) {
			// Results that could not be written while the inbox was away.
			if err := fin.Recover(); err != nil {
				log.Error("cannot read the state for results waiting on an inbox that came back", "error", err)
			}
		}})
	client, err := stageopts.NewClient(cfg, o.APIKey, func(a *api.Options) {
		a.Transport, a.Logger, a.WatchHealth = o.Transport, log.With("component", "api"), true
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCannotRun, cfg.File, err)
	}
	bk, err := ledger.NewBooks(stageopts.Ledgers(cfg.Inboxes), client, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCannotRun, cfg.File, err)
	}
	books := ledgerSink{bk}
	rec := activity.New(nil)
	polledBefore, err := history.Restore(st, rec)
	if err != nil {
		return nil, cannot(err)
	}
	note, err := notify.NewHook(notify.HookOptions{Config: cfg, Store: st, Activity: rec, Tune: o.Notify, Log: log})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	fin = finish.New(finish.Options{Store: st, Inboxes: finishInboxes(cfg.Inboxes), Watcher: forgetter(p.watchers),
		Sink: sinks{books, note, history.Recording(rec, sink(o.OnFinished))}, HeldSink: books, Logger: log, Reachable: reachable(p.watchers),
		Fetch: documentFetcher(client)})
	pol := poller.New(poller.Options{Store: st, API: client, Finisher: fin, Interval: cfg.Poll.Interval.Duration,
		Logger: log, NudgeWindow: cfg.API.RateWindow.Duration, ServerClock: client.ServerClockOffset,
		NudgeBudget: (cfg.API.RequestsPerWindow - cfg.API.SubmissionsPerWindow) * 7 / 10})
	up := uploader.New(uploader.Options{Store: st, API: client, Inboxes: uploaderInboxes(cfg.Inboxes),
		Tracker: pol, Finisher: fin, Logger: log, Once: o.Once,
		BatchWindow: cfg.Upload.BatchWindow.Duration, MaxBatchFiles: cfg.Upload.MaxBatchFiles,
		MaxBatchBytes: cfg.Upload.MaxBatchBytes.Bytes, MaxFileSize: cfg.Upload.MaxFileSize.Bytes,
		CreditRecheck: cfg.Upload.CreditRecheck.Duration,
		Settling: func() int {
			n := len(found)
			for _, w := range p.watchers {
				n += w.Status().Settling
			}
			return n
		}})
	live := &liveSource{cfg: cfg, st: st, up: up, pol: pol, fin: fin, watchers: p.watchers, client: client,
		started: time.Now(), log: log, leases: p.leases, polledBefore: polledBefore}
	note.Lend(live.Report, client.Fault)
	wo := webhook.OptionsFor(cfg, o.Once)
	wo.Client, wo.Store, wo.Poller, wo.Log = client, st, pol, log
	hook := webhook.NewKeeper(wo)
	if cfg.Webhook.Enabled {
		live.hook = hook
	}
	adm, err := newAdminServer(cfg, live, st, rec, note, log)
	if err != nil {
		return nil, err
	}
	startup := reconcile.NewStartup(reconcile.StartupOptions{Store: st, Inboxes: reconcileInboxes(cfg.Inboxes), Finisher: fin,
		Reachable: reachable(p.watchers), Log: log})
	maint := state.NewMaintainer(st, state.MaintainOptions{Roots: inboxRoots(cfg.Inboxes), Retention: cfg.State.Retention.Duration,
		Every: o.PruneEvery, Log: log})
	p.components = []Component{
		maint,
		recoverErr(p.leases, func(err error) error { return fmt.Errorf("%w: %w", ErrCannotRun, err) }),
		bk,
		note,
		component{recover: stateErr(cannot, fin.Recover), run: work(func(ctx context.Context) { fin.Run(ctx, cfg.Poll.Interval.Duration) })},
		component{recover: stateErr(cannot, pol.Recover), run: work(pol.Run)},
		component{recover: stateErr(cannot, up.Recover), run: work(func(ctx context.Context) { up.Run(ctx, events) })},
		recoverErr(startup, cannot),
		preflight(o, up, client, log),
		recoverErr(hook, func(err error) error { return fmt.Errorf("%w: %s: %w", ErrCannotRun, cfg.File, err) }),
		history.NewKeeper(history.Options{Store: st, Recorder: rec, Credits: up.Credits, LastPoll: pol.LastPoll, Log: log}),
		adm,
		component{run: work(func(ctx context.Context) { p.watch(ctx, found, log) })},
		component{run: func(ctx context.Context) error {
			return p.until(ctx, stages{up: up, pol: pol, fin: fin, st: st, problem: p.unreachable.add}, maint.Checked(), live, log)
		}},
	}
	return p, nil
}

// work is the Run of a component that holds nothing to let go of: it does
// nothing when the run never started (its context has already ended).
func work(run func(ctx context.Context)) func(context.Context) error {
	return func(ctx context.Context) error {
		if ctx.Err() == nil {
			run(ctx)
		}
		return nil
	}
}

// recoverErr is c with the failure of its Recover said by wrap.
func recoverErr(c Component, wrap func(error) error) Component {
	return component{recover: func(ctx context.Context) error {
		if err := c.Recover(ctx); err != nil {
			return wrap(err)
		}
		return nil
	}, run: c.Run}
}

// stateErr is a stage's Recover (which reads the state) as a component's,
// its failure named by cannot.
func stateErr(cannot func(error) error, recover func() error) func(context.Context) error {
	return func(context.Context) error {
		if err := recover(); err != nil {
			return cannot(err)
		}
		return nil
	}
}

// preflight checks the key and the balance. A --once run waits for it, in
// Recover (it has nothing to do without the API). The daemon checks in its
// Run, in the background while every stage starts, so its status page,
// /healthz and watchers answer during an API outage at boot, while the
// client keeps trying for up to two minutes; a refused key still stops it.
func preflight(o Options, up *uploader.Uploader, client *api.Client, log *slog.Logger) Component {
	cfg := o.Config
	check := func(ctx context.Context) error {
		pre, cancelPre := context.WithTimeout(ctx, 2*time.Minute)
		me, err := up.Preflight(pre)
		cancelPre()
		switch {
		case api.IsUnauthorized(err):
			return fmt.Errorf("%w: %w", ErrCannotRun, err)
		case err != nil && o.Once:
			return fmt.Errorf("%w: the PerfectParser API at %s is unreachable: %w", ErrCannotRun, cfg.API.BaseURL, err)
		case err != nil && ctx.Err() != nil: // stopping
		case err != nil:
			if client.Fault() == "" { // an answer, but not a usable one; an outage is logged by the client
				log.Warn("cannot reach the PerfectParser API; files are collected and sent when it answers", "error", err)
			}
		default:
			log.Info("ppsync started", "version", version.String(), "api", cfg.API.BaseURL, "credits", me.CreditsAvailable,
				"key", me.KeyName, "inboxes", len(cfg.Inboxes), "state", cfg.State.Path)
		}
		return nil
	}
	if o.Once {
		return component{recover: check}
	}
	return component{run: func(ctx context.Context) error {
		if ctx.Err() != nil { // the run never started
			return nil
		}
		return check(ctx)
	}}
}

// newAdminServer is the admin endpoint (the status page, /healthz, the
// API for 'ppsync status'): it listens in Recover and stops with its Run.
// One that cannot listen is logged; the daemon goes on without it.
func newAdminServer(cfg *config.Config, live *liveSource, st *state.Store, rec *activity.Recorder, note *notify.Hook, log *slog.Logger) (Component, error) {
	if cfg.Admin.Listen == "off" {
		return component{}, nil
	}
	ao, err := adminOptions(cfg, live, st, rec, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCannotRun, cfg.File, err)
	}
	ao.Collectors = append(ao.Collectors, note.Collectors()...)
	var stop func()
	return component{
		recover: func(ctx context.Context) error {
			s, err := admin.Serve(ctx, live, ao, log)
			if err != nil {
				log.Error("admin endpoint not started; 'ppsync status' cannot reach this daemon", "listen", cfg.Admin.Listen, "error", err)
				return nil
			}
			stop = s
			return nil
		},
		run: func(ctx context.Context) error {
			<-ctx.Done()
			if stop != nil {
				stop()
			}
			return nil
		},
	}, nil
}

// watch runs every watcher until ctx ends (with Once, until each has
// reported what its inbox holds; found is then closed); an inbox that
// cannot be scanned is noted for the summary.
func (p *pipeline) watch(ctx context.Context, found chan watcher.Event, log *slog.Logger) {
	var ws sync.WaitGroup
	for _, w := range p.watchers {
		ws.Go(func() {
			if err := w.Run(ctx, found); err != nil {
				log.Error("cannot scan inbox", "inbox", w.Status().Path, "error", err)
				p.unreachable.add(err.Error())
			}
		})
	}
	ws.Wait()
	close(p.watchersDone)
	if p.o.Once {
		close(found) // every file found at start-up has been reported
	}
}

// until says the run is ready (Options.Ready, Options.Progress, Options.Status) and
// returns when it ends: with Once when every file found at start-up has a
// final state (and the state's records are checked), else when ctx ends,
// the uploader fails or the state is found damaged.
func (p *pipeline) until(ctx context.Context, s stages, checked <-chan struct{}, live *liveSource, log *slog.Logger) error {
	if p.o.Ready != nil {
		close(p.o.Ready)
	}
	if p.o.Progress != nil {
		p.o.Progress(live.Progress)
	}
	if p.o.Status != nil {
		p.o.Status(live.Report)
	}
	if p.o.Once {
		if err := waitOnce(ctx, s, p.watchersDone, log); err != nil {
			return err
		}
		select {
		case <-checked:
		case <-ctx.Done():
		}
		return errFinished
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.up.Fatal():
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	case <-s.st.Damaged():
		return errFinished // Run reports the damage
	}
}

// summary counts the files of the configured inboxes after the run and
// lists what could not be read.
func (p *pipeline) summary(runErr error) (Summary, error) {
	sum, err := reconcile.Summarize(p.st, inboxRoots(p.o.Config.Inboxes))
	if err != nil && runErr == nil {
		runErr = err
	}
	for _, w := range p.watchers {
		for _, u := range w.Status().Unreadable {
			p.unreachable.add(u)
		}
	}
	for _, pr := range p.leases.Problems() {
		p.unreachable.add(pr)
	}
	sum.Unreachable = p.unreachable.list()
	sum.Problems = append(sum.Problems, sum.Unreachable...)
	return sum, runErr
}
