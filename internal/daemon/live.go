package daemon

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/watcher"
	"github.com/ppsync/ppsync/internal/webhook"
)

// liveSource is the running daemon's control.Control: the admin endpoint
// and the status page act through it, on the running stages.
type liveSource struct {
	cfg      *config.Config
	st       *state.Store
	up       *uploader.Uploader
	pol      *poller.Poller
	fin      *finish.Finisher
	watchers []*watcher.Watcher
	client   *api.Client
	started  time.Time
	log      *slog.Logger
	hook     *webhook.Keeper // nil with webhooks off
	leases   *lease.Keeper
	// polledBefore is the last poll the state recorded before this run.
	polledBefore time.Time

	// The state's part of the report, kept while the state has not
	// changed and its cost bounded while it does (see reportCache).
	counts reportCache
}

var _ admin.Source = (*liveSource)(nil)

// fromState is store.Report, reused while the state has not changed, and
// while it changes for as long as the last one's cost says (reportCache).
func (l *liveSource) fromState(waiting bool) (report.Report, error) {
	var v uint64
	if err := l.st.View(func(tx *state.Tx) error { v = tx.Version(); return nil }); err != nil {
		return report.Report{}, err
	}
	return l.counts.get(v, waiting, func() (report.Report, error) { return store.Report(l.st, l.cfg, waiting) })
}

// WebhookTest sends a test delivery and waits for it (admin endpoint, check).
func (l *liveSource) WebhookTest(ctx context.Context) (control.WebhookTestAnswer, error) {
	if l.hook == nil {
		return control.WebhookTestAnswer{Message: "webhooks are not enabled in the config"}, nil
	}
	msg, err := l.hook.Test(ctx)
	if err != nil {
		return control.WebhookTestAnswer{Message: err.Error()}, nil
	}
	return control.WebhookTestAnswer{OK: true, Message: msg}, nil
}

// RebuildLedgers regenerates every inbox's ledger from its result files,
// as `ppsync ledger rebuild` does, with the daemon's API client for the
// parsers' schemas.
func (l *liveSource) RebuildLedgers(ctx context.Context) (control.RebuildAnswer, error) {
	return RebuildLedgersAnswer(ctx, l.cfg, l.client, l.log)
}

// Status is the daemon's report (the same as Report).
func (l *liveSource) Status(context.Context) (report.Report, error) { return l.Report() }

func (l *liveSource) Report() (report.Report, error) {
	credits, known, waiting := l.up.Credits()
	r, err := l.fromState(waiting)
	if err != nil {
		return r, err
	}
	if known {
		r.CreditsAvailable = &credits
	}
	var waits []report.CreditWait
	for _, w := range l.up.CreditWaits() {
		waits = append(waits, report.CreditWait{Path: w.Path, Inbox: w.Inbox, Needs: w.Needs, Available: w.Available})
	}
	r.HoldForCredits(waits, waiting)
	r.Daemon = report.Daemon{Running: true, PID: os.Getpid(), Version: version.String(), Started: l.started}
	r.LastPoll, r.LastPollError = l.pol.LastPoll()
	if r.LastPoll.IsZero() {
		r.LastPoll = l.polledBefore
	}
	r.JobsInFlight, _ = l.pol.InFlight()
	r.ResultWriteErrors = l.fin.WriteErrors()
	r.Review = admin.ReviewSummary(l.fin.Held(), time.Now())
	if f := l.st.WriteFault(); f != "" {
		r.Faults = append(r.Faults, f)
	}
	if f := l.client.Fault(); f != "" {
		r.Faults = append(r.Faults, f)
	}
	if l.hook != nil {
		r.Webhook = l.hook.Report()
	}
	l.watchStatus(&r)
	return r, nil
}

// Progress is what run --once's progress line shows: the files of each
// inbox by state (those on their way all in flight, see store.Progress),
// those still settling, and the credits.
func (l *liveSource) Progress() (report.Report, error) {
	r, err := store.Progress(l.st, l.cfg)
	if err != nil {
		return r, err
	}
	if credits, known, _ := l.up.Credits(); known {
		r.CreditsAvailable = &credits
	}
	for i, w := range l.watchers {
		r.Inboxes[i].Settling = w.Status().Settling
	}
	return r, nil
}

// watchStatus adds each inbox's watcher's view to r.
func (l *liveSource) watchStatus(r *report.Report) {
	for i, w := range l.watchers {
		s := w.Status()
		healthy := s.Healthy
		if err := l.leases.Fault(i); healthy && err != nil {
			healthy, s.Error = false, err.Error() // read-only or full: the lease cannot be written
		}
		if err := l.up.InboxFault(i); healthy && err != nil {
			healthy, s.Error = false, err.Error() // its results cannot be written: its files wait
		}
		if healthy && len(s.Unreadable) > 0 {
			healthy, s.Error = false, strings.Join(s.Unreadable, "; ")
		}
		in := &r.Inboxes[i]
		in.Healthy, in.Error, in.LastScan = &healthy, s.Error, s.LastScan
		in.Settling, in.Incomplete, in.Rescans, in.Overflows = s.Settling, s.Incomplete, s.Rescans, s.Overflows
		if s.Mode != "" {
			in.Watch, in.WatchReason = s.Mode, s.WatchReason
		}
	}
}

// Retry sends failed or refused files through again now.
func (l *liveSource) Retry(_ context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	abs, err := control.AbsPaths(req.Paths)
	if err != nil {
		return control.RetryAnswer{}, err
	}
	ans, err := store.Retry(l.st, control.RetryRequest{Paths: abs, Failed: req.Failed})
	if err != nil {
		return control.RetryAnswer{}, err
	}
	for _, p := range ans.Retried {
		l.fin.Forget(p)
	}
	if len(ans.Retried) > 0 {
		l.log.Info("files sent through again on request", "files", len(ans.Retried))
	}
	return ans, nil
}

func (l *liveSource) APICounter() *api.Counter { return l.client.Counter() }

// PlanReprocess says what processing paths again sends and costs.
func (l *liveSource) PlanReprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	abs, err := control.AbsPaths(paths)
	if err != nil {
		return control.ReprocessAnswer{}, err
	}
	return store.PlanReprocess(l.st, abs)
}

// Reprocess processes files again on purpose (finished ones included),
// each under a new idempotency key: it is charged again.
func (l *liveSource) Reprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	abs, err := control.AbsPaths(paths)
	if err != nil {
		return control.ReprocessAnswer{}, err
	}
	ans, err := store.Reprocess(l.st, abs)
	if err != nil {
		return ans, err
	}
	for _, p := range ans.Reprocessed {
		l.fin.Forget(p)
	}
	if len(ans.Reprocessed) > 0 {
		l.log.Info("files processed again on request (charged again)", "files", len(ans.Reprocessed))
	}
	return ans, nil
}
