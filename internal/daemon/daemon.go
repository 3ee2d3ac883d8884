// Package daemon wires the stages together: watchers → uploader → API →
// poller → finish, around one state store and one API client.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/watcher"
)

// Options configures a run.
type Options struct {
	Config *config.Config
	APIKey string
	// Once processes what is in the inboxes now, waits for every result and returns.
	Once   bool
	Logger *slog.Logger
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// OnFinished is called after each file's result or error file is written.
	OnFinished func(f state.File, doc json.RawMessage)
	// Ready is closed once every stage is running (tests, demo).
	Ready chan<- struct{}
	// PruneEvery is how often the state is pruned after the pass at start-up
	// (DefaultPruneEvery when zero).
	PruneEvery time.Duration
}

// ErrCannotRun wraps failures that stop a run before or while it works:
// a locked or damaged state, a refused key, an unreachable API in --once.
var ErrCannotRun = errors.New("cannot run")

// Summary counts the files of the configured inboxes by state after a run.
type Summary struct {
	Done, Failed, Invalid, Gone, Waiting int
	// Problems lists files that did not end with a result, with the reason.
	Problems []string
}

// OK reports that every file ended with a result.
func (s Summary) OK() bool { return s.Failed+s.Invalid+s.Waiting == 0 }

// Run runs the pipeline until ctx ends (or, with Once, until done). Every
// goroutine it starts belongs to one group, joined before the leases are
// released and the state store is closed.
func Run(ctx context.Context, o Options) (Summary, error) {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	if st, err = compactAtStart(st, cfg.State.Path, log); err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	defer st.Close()

	// The inbox leases keep a second ppsync (here or on another machine
	// sharing the folder) from processing the same files.
	holder := lease.Me(cfg.State.Path)
	var leases []*lease.Lease
	defer func() {
		for _, l := range leases {
			l.Release()
		}
	}()
	for _, in := range cfg.Inboxes {
		l, err := lease.Acquire(in.Path, holder, leaseTTL, 150*time.Millisecond)
		if err != nil {
			return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
		}
		leases = append(leases, l)
	}

	client, err := api.New(api.Options{
		BaseURL: cfg.API.BaseURL, APIKey: o.APIKey, UserAgent: version.UserAgent(),
		RequestsPerWindow: cfg.API.RequestsPerWindow, SubmissionsPerWindow: cfg.API.SubmissionsPerWindow,
		RateWindow: cfg.API.RateWindow.Duration, RequestTimeout: cfg.API.RequestTimeout.Duration,
		Transport: o.Transport, Logger: log.With("component", "api"),
	})
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %s: %w", ErrCannotRun, cfg.File, err)
	}

	// The ledgers are written last: after every stage has stopped, before
	// the leases are released and the state is closed.
	books, err := newBooks(cfg, log)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	defer books.close()

	// One lifetime: every goroutine below joins g, and g is joined (after
	// ctx is cancelled) before the leases are released and the store closed.
	ctx, cancel := context.WithCancel(ctx)
	var g errgroup.Group
	defer func() {
		cancel()
		_ = g.Wait()
	}()

	watchers := make([]*watcher.Watcher, len(cfg.Inboxes))
	for i, in := range cfg.Inboxes {
		watchers[i] = watcher.New(watcher.Options{Index: i, Inbox: in, Once: o.Once, Logger: log.With("component", "watcher")})
	}
	fin := finish.New(finish.Options{Store: st, Inboxes: finishInboxes(cfg.Inboxes), Watcher: forgetter(watchers),
		Sink: sinks{books, sink(o.OnFinished)}, Logger: log})
	pol := poller.New(poller.Options{Store: st, API: client, Finisher: fin, Interval: cfg.Poll.Interval.Duration,
		Logger: log, NudgeWindow: cfg.API.RateWindow.Duration,
		NudgeBudget: (cfg.API.RequestsPerWindow - cfg.API.SubmissionsPerWindow) * 7 / 10})
	up := uploader.New(uploader.Options{Store: st, API: client, Inboxes: uploaderInboxes(cfg.Inboxes),
		Tracker: pol, Finisher: fin, Logger: log, Once: o.Once,
		BatchWindow: cfg.Upload.BatchWindow.Duration, MaxBatchFiles: cfg.Upload.MaxBatchFiles,
		MaxBatchBytes: cfg.Upload.MaxBatchBytes.Bytes, MaxFileSize: cfg.Upload.MaxFileSize.Bytes,
		CreditRecheck: cfg.Upload.CreditRecheck.Duration,
		Settling: func() int {
			n := 0
			for _, w := range watchers {
				n += w.Status().Settling
			}
			return n
		}})
	for _, rec := range []func() error{fin.Recover, pol.Recover, up.Recover} {
		if err := rec(); err != nil {
			return Summary{}, fmt.Errorf("%w: reading state %s: %w", ErrCannotRun, cfg.State.Path, err)
		}
	}
	for _, in := range cfg.Inboxes {
		if n, err := results.CleanTemp(in.Path, in.Recursive); err == nil && n > 0 {
			log.Info("removed temp files left by an interrupted run", "inbox", in.Path, "files", n)
		}
		if in.ResultsDir == "" {
			continue
		}
		if n, err := results.CleanTemp(in.ResultsDir, true); err == nil && n > 0 {
			log.Info("removed temp files left by an interrupted run", "results_dir", in.ResultsDir, "files", n)
		}
	}
	if err := reconcileMissing(st, cfg, log); err != nil {
		return Summary{}, fmt.Errorf("%w: reading state %s: %w", ErrCannotRun, cfg.State.Path, err)
	}
	g.Go(func() error { maintain(ctx, st, cfg, o.PruneEvery, log); return nil })

	pre, cancelPre := context.WithTimeout(ctx, 2*time.Minute)
	me, err := up.Preflight(pre)
	cancelPre()
	switch {
	case api.IsUnauthorized(err):
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	case err != nil && o.Once:
		return Summary{}, fmt.Errorf("%w: the PerfectParser API at %s is unreachable: %w", ErrCannotRun, cfg.API.BaseURL, err)
	case err != nil:
		log.Warn("cannot reach the PerfectParser API; files are collected and sent when it answers", "error", err)
	default:
		log.Info("ppsync started", "version", version.String(), "api", cfg.API.BaseURL, "credits", me.CreditsAvailable,
			"key", me.KeyName, "inboxes", len(cfg.Inboxes), "state", cfg.State.Path)
	}

	live := &liveSource{cfg: cfg, st: st, up: up, pol: pol, fin: fin, watchers: watchers, client: client,
		started: time.Now(), log: log}
	if cfg.Webhook.Enabled {
		hook, err := startWebhook(ctx, &g, cfg, client, st, pol, log)
		if err != nil {
			return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
		}
		live.hook = hook
	} else {
		removeStaleWebhook(ctx, client, st, log)
	}
	if cfg.Admin.Listen != "off" {
		stopAdmin, err := admin.Serve(ctx, live, admin.OptionsFor(cfg), log)
		if err != nil {
			log.Error("admin endpoint not started; 'ppsync status' cannot reach this daemon", "listen", cfg.Admin.Listen, "error", err)
		} else {
			g.Go(func() error { <-ctx.Done(); stopAdmin(); return nil })
		}
	}

	events := make(chan watcher.Event, 256)
	g.Go(func() error { up.Run(ctx, events); return nil })
	g.Go(func() error { pol.Run(ctx); return nil })
	g.Go(func() error { fin.Run(ctx, cfg.Poll.Interval.Duration); return nil })
	g.Go(func() error { books.run(ctx, client); return nil })
	var ws sync.WaitGroup
	for _, w := range watchers {
		ws.Add(1)
		g.Go(func() error {
			defer ws.Done()
			if err := w.Run(ctx, events); err != nil {
				log.Error("cannot scan inbox", "inbox", w.Status().Path, "error", err)
			}
			return nil
		})
	}
	watchersDone := make(chan struct{})
	g.Go(func() error {
		ws.Wait()
		close(watchersDone)
		if o.Once {
			close(events) // every file found at start-up has been reported
		}
		return nil
	})
	if o.Ready != nil {
		close(o.Ready)
	}

	leaseLost := make(chan error, 1)
	g.Go(func() error { renewLeases(ctx, leases, leaseLost); return nil })

	var runErr error
	if o.Once {
		runErr = waitOnce(ctx, stages{up: up, pol: pol, fin: fin}, watchersDone, leaseLost, log)
	} else {
		select {
		case <-ctx.Done():
		case err := <-up.Fatal():
			runErr = fmt.Errorf("%w: %w", ErrCannotRun, err)
		case err := <-leaseLost:
			runErr = fmt.Errorf("%w: %w", ErrCannotRun, err)
		}
	}
	cancel()
	_ = g.Wait()
	sum, err := summarize(st, cfg)
	if err != nil && runErr == nil {
		runErr = err
	}
	return sum, runErr
}

// leaseTTL is how long a lease lives without renewal; it is renewed every third of it.
const leaseTTL = 30 * time.Second

func renewLeases(ctx context.Context, leases []*lease.Lease, lost chan<- error) {
	t := time.NewTicker(leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, l := range leases {
			if err := l.Renew(); err != nil {
				lost <- err
				return
			}
		}
	}
}

// stages are what waitOnce watches.
type stages struct {
	up  *uploader.Uploader
	pol *poller.Poller
	fin *finish.Finisher
}

// waitOnce returns when every file found at start-up has a final state, or
// only files waiting for credits remain. It wakes on the stages' change
// signals, never on a timer.
func waitOnce(ctx context.Context, s stages, watchersDone <-chan struct{}, leaseLost <-chan error, log *slog.Logger) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.up.Fatal():
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	case err := <-leaseLost:
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	case <-watchersDone:
	}
	for {
		// Take the signals before looking, so a change in between wakes us.
		upC, polC, finC := s.up.Changed(), s.pol.Changed(), s.fin.Changed()
		idle, stuck := s.up.Idle()
		rest := s.pol.Idle() && s.fin.Idle()
		if stuck && rest {
			log.Warn("stopping with files still waiting for credits; add credits and run again")
			return nil
		}
		if idle && rest {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.up.Fatal():
			return fmt.Errorf("%w: %w", ErrCannotRun, err)
		case err := <-leaseLost:
			return fmt.Errorf("%w: %w", ErrCannotRun, err)
		case <-upC:
		case <-polC:
		case <-finC:
		}
	}
}

func finishInboxes(ins []config.Inbox) []finish.Inbox {
	out := make([]finish.Inbox, len(ins))
	for i, in := range ins {
		out[i] = finish.Inbox{Path: in.Path, Move: in.After == "move", ProcessedDir: in.ProcessedDir, FailedDir: in.FailedDir,
			ResultsDir: in.ResultsDir}
	}
	return out
}

func uploaderInboxes(ins []config.Inbox) []uploader.Inbox {
	out := make([]uploader.Inbox, len(ins))
	for i, in := range ins {
		out[i] = uploader.Inbox{Path: in.Path, ParserID: in.ParserID, Types: in.Types}
	}
	return out
}

// sink adapts Options.OnFinished to the finish stage's Sink.
func sink(fn func(f state.File, doc json.RawMessage)) finish.Sink {
	if fn == nil {
		return nil
	}
	return finish.SinkFunc(func(_ context.Context, w finish.Written) { fn(w.File, w.Document) })
}

type forgetter []*watcher.Watcher

func (f forgetter) Forget(inbox int, path string) {
	if inbox >= 0 && inbox < len(f) {
		f[inbox].Forget(path)
	}
}

// reconcileMissing marks files deleted while ppsync was down as gone, when
// their inbox is reachable (an unreachable share is not an empty one).
func reconcileMissing(st *state.Store, cfg *config.Config, log *slog.Logger) error {
	reachable := map[string]bool{}
	for _, in := range cfg.Inboxes {
		if s, err := os.Stat(in.Path); err == nil && s.IsDir() {
			reachable[in.Path] = true
		}
	}
	var gone []state.File
	err := st.View(func(tx *state.Tx) error {
		return tx.OpenFiles(func(f state.File) error {
			if f.State != state.FileQueued && f.State != state.FileDuplicate || !reachable[f.Inbox] {
				return nil
			}
			if _, err := os.Lstat(f.Path); errors.Is(err, os.ErrNotExist) {
				gone = append(gone, f)
			}
			return nil
		})
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	return st.Update(func(tx *state.Tx) error {
		for _, f := range gone {
			f.State, f.Reason, f.Updated = state.FileGone, "deleted from the inbox while ppsync was stopped", time.Now()
			log.Warn("file deleted while ppsync was stopped", "file", f.Path)
			if err := tx.PutFile(f); err != nil {
				return err
			}
		}
		return nil
	})
}

func summarize(st *state.Store, cfg *config.Config) (Summary, error) {
	inboxes := map[string]bool{}
	for _, in := range cfg.Inboxes {
		inboxes[in.Path] = true
	}
	var s Summary
	err := st.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error {
			if !inboxes[f.Inbox] {
				return nil
			}
			switch f.State {
			case state.FileDone:
				s.Done++
			case state.FileFailed:
				s.Failed++
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s: %s", f.Path, f.Code, f.Reason))
			case state.FileInvalid:
				s.Invalid++
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s: %s", f.Path, f.Code, f.Reason))
			case state.FileGone:
				s.Gone++
			default:
				s.Waiting++
				if f.Reason != "" {
					s.Problems = append(s.Problems, fmt.Sprintf("%s: still waiting (%s): %s: %s", f.Path, f.State, f.Code, f.Reason))
				} else {
					s.Problems = append(s.Problems, fmt.Sprintf("%s: still waiting (%s)", f.Path, f.State))
				}
			}
			return nil
		})
	})
	return s, err
}
