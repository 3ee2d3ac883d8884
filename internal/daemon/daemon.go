// Package daemon wires the stages together (watchers → uploader → API →
// poller → finish, around one state store and one API client) and
// supervises them: it builds the components of a run, recovers and runs
// them in order, and stops them in reverse (docs/components.md).
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/logonce"
	"github.com/ppsync/ppsync/internal/notify"
	"github.com/ppsync/ppsync/internal/outpath"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/reconcile"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
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
	Transport api.Transport
	// OnFinished is called after each file's result or error file is written.
	OnFinished func(f state.File, doc json.RawMessage)
	// Ready is closed once every stage is running (tests, demo).
	Ready chan<- struct{}
	// Progress, when set, is called once the stages run with a function
	// returning what run --once's progress line shows: the files by state,
	// those on their way all in flight (see store.Progress).
	Progress func(status func() (report.Report, error))
	// Status, when set, is called once the stages run with a function
	// returning the live status, as the status page shows it (tests).
	Status func(status func() (report.Report, error))
	// Notify tunes the [[notify]] notifier (tests: a fast clock and
	// back-off); its targets come from the config.
	Notify notify.Options
	// PruneEvery is how often the state is pruned after the pass at start-up
	// (state.DefaultPruneEvery when zero).
	PruneEvery time.Duration
	// LeaseTTL is how long another ppsync's inbox lease may stay unchanged
	// before its holder is taken for dead (DefaultLeaseTTL when zero).
	LeaseTTL time.Duration
}

// ErrCannotRun wraps failures that stop a run before or while it works:
// a locked or damaged state, a refused key, an unreachable API in --once.
var ErrCannotRun = errors.New("cannot run")

// Summary counts the files of the configured inboxes by state after a run.
type Summary = reconcile.Summary

// faultList collects problems found by concurrent stages.
type faultList struct {
	mu    sync.Mutex
	items []string
}

func (f *faultList) add(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, s)
}

func (f *faultList) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.items)
}

// reachable tells finish whether a file's inbox can be written to now.
func reachable(ws []*watcher.Watcher) func(inbox int) bool {
	return func(i int) bool { return i >= 0 && i < len(ws) && ws[i].Reachable() == nil }
}

// stateMappedUpTo is the whole resident memory under which the state's
// mapped pages stay mapped (state.Store.KeepMappedUpTo). The daemon's
// target is 64 MiB of peak resident memory; above 48 MiB the pages go back
// as the state's budget says, which leaves 16 MiB for what is mapped
// between two looks and for the binary's code faulting back in (see
// internal/codepages). Under it, lookups find their pages mapped: in a
// backlog of 10,000 files, 38 % less CPU than handing them back every
// 4 MiB, with a peak of 49 MiB.
const stateMappedUpTo = 48 << 20

// Run runs the pipeline until ctx ends (or, with Once, until done): it
// opens the state, wires the stages into components (wire) and supervises
// them: every component recovers in order, then runs; they are stopped and
// joined in reverse before the state store is closed.
func Run(ctx context.Context, o Options) (Summary, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A fault that repeats (a full disk, a share away) is written once,
	// then summarised once a minute.
	log = slog.New(logonce.New(log.Handler(), time.Minute))
	st, err := state.Open(o.Config.State.Path, time.Second)
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	defer st.Close()
	st.KeepMappedUpTo(stateMappedUpTo)
	p, err := wire(st, o, log)
	if err != nil {
		return Summary{}, err
	}
	sup := supervisor(p.components)
	if err := sup.Recover(ctx); err != nil {
		return Summary{}, err
	}
	runErr := sup.Run(ctx)
	if err := st.DamageErr(); err != nil {
		// A damaged state stops the run, and no count is made from it.
		return Summary{}, fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	return p.summary(runErr)
}

// stages are what waitOnce watches.
type stages struct {
	st  *state.Store
	up  *uploader.Uploader
	pol *poller.Poller
	fin *finish.Finisher
	// problem adds a line to the run's summary (nil: none is kept).
	problem func(string)
}

// waitOnce returns when every file found at start-up has a final state, or
// only files left for the next run remain: waiting for credits, or held
// because their results cannot be written (the uploader stops waiting for
// those after a few probes). It wakes on the stages' change signals, never
// on a timer.
func waitOnce(ctx context.Context, s stages, watchersDone <-chan struct{}, log *slog.Logger) error {
	if stop, err := s.await(ctx, watchersDone, nil, nil); stop {
		return err
	}
	for {
		// Take the signals before looking, so a change in between wakes us.
		upC, polC, finC := s.up.Changed(), s.pol.Changed(), s.fin.Changed()
		idle, stuck := s.up.Idle()
		rest := s.pol.Idle() && s.fin.Idle()
		if (idle || stuck) && rest {
			if left, ok := s.up.Leftover(); ok {
				s.leftover(left, log)
				return nil
			}
		}
		if stop, err := s.await(ctx, upC, polC, finC); stop {
			return err
		}
	}
}

// leftover says what a --once run ends without, in the log and (files
// held or not recorded) in the summary: none of it was sent or charged,
// and the next run takes it.
func (s stages) leftover(l uploader.Leftover, log *slog.Logger) {
	if l.Credits {
		log.Warn("stopping with files still waiting for credits; add credits and run again")
	}
	for _, h := range l.Held {
		log.Warn("stopping without the files of an inbox whose results cannot be written; nothing was sent or charged for them, "+
			"and the next run takes them once the folder the error names can be written",
			"inbox", h.Inbox, "files", h.Files, "error", h.Err)
		s.note(fmt.Sprintf("%s: %s not taken in: %v", h.Inbox, fileCount(h.Files), h.Err))
	}
	if n := len(l.Unrecorded); n > 0 {
		log.Warn("stopping without files whose record could not be written; they were not sent or charged, and the next run takes them",
			"files", n, "first", l.Unrecorded[0].Path, "error", l.Unrecorded[0].Err)
		for _, f := range l.Unrecorded {
			s.note(fmt.Sprintf("%s: not taken in, its record could not be written (the next run takes it): %v", f.Path, f.Err))
		}
	}
}

func (s stages) note(p string) {
	if s.problem != nil {
		s.problem(p)
	}
}

// fileCount is "1 file", "3 files".
func fileCount(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// await blocks until one of a, b, c is ready (a nil one never is), and
// reports stop when waitOnce must return err instead: ctx ended (nil) or
// the uploader failed (ErrCannotRun).
func (s stages) await(ctx context.Context, a, b, c <-chan struct{}) (stop bool, err error) {
	select {
	case <-ctx.Done():
		return true, nil
	case err := <-s.up.Fatal():
		return true, fmt.Errorf("%w: %w", ErrCannotRun, err)
	case <-s.st.Damaged():
		return true, fmt.Errorf("%w: %w", ErrCannotRun, s.st.DamageErr())
	case <-a:
	case <-b:
	case <-c:
	}
	return false, nil
}

func finishInboxes(ins []config.Inbox) []finish.Inbox {
	out := make([]finish.Inbox, len(ins))
	for i, in := range ins {
		out[i] = finish.Inbox{Path: in.Path, Move: in.After == "move", ProcessedDir: in.ProcessedDir, FailedDir: in.FailedDir,
			ResultsDir: in.ResultsDir, Review: stageopts.Review(in), ReviewInLedger: in.ReviewInLedger}
	}
	return out
}

func uploaderInboxes(ins []config.Inbox) []uploader.Inbox {
	out := make([]uploader.Inbox, len(ins))
	for i, in := range ins {
		out[i] = uploader.Inbox{Path: in.Path, ParserID: in.ParserID, Types: in.Types, MaxPages: in.MaxPages, Targets: outpath.Folders(in.Path, in.ResultsDir, in.ProcessedDir, in.FailedDir, in.After == "move")}
	}
	return out
}

func reconcileInboxes(ins []config.Inbox) []reconcile.Inbox {
	out := make([]reconcile.Inbox, len(ins))
	for i, in := range ins {
		out[i] = reconcile.Inbox{Path: in.Path, Recursive: in.Recursive, ResultsDir: in.ResultsDir}
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

// inboxRoots are the paths of the configured inboxes.
func inboxRoots(ins []config.Inbox) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Path
	}
	return out
}
