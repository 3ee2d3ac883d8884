package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
	"github.com/ppsync/ppsync/internal/version"
	"github.com/ppsync/ppsync/internal/watcher"
)

// liveSource answers the admin endpoint from the running stages.
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
	hook     *hookState
}

// WebhookTest sends a test delivery and waits for it (admin endpoint, check).
func (l *liveSource) WebhookTest(ctx context.Context) (string, error) {
	if l.hook == nil {
		return "", errors.New("webhooks are not enabled in the config")
	}
	return l.hook.test(ctx)
}

func (l *liveSource) Report() (report.Report, error) {
	credits, known, waiting := l.up.Credits()
	r, err := report.FromState(l.st, l.cfg, waiting)
	if err != nil {
		return r, err
	}
	r.Daemon = report.Daemon{Running: true, PID: os.Getpid(), Version: version.String(), Started: l.started}
	if known {
		r.CreditsAvailable = &credits
	}
	r.LastPoll, r.LastPollError = l.pol.LastPoll()
	r.JobsInFlight, _ = l.pol.InFlight()
	r.ResultWriteErrors = l.fin.WriteErrors()
	if l.hook != nil {
		r.Webhook = l.hook.report()
	}
	for i, w := range l.watchers {
		s := w.Status()
		healthy := s.Healthy
		in := &r.Inboxes[i]
		in.Healthy, in.Error, in.LastScan = &healthy, s.Error, s.LastScan
		in.Settling, in.Incomplete, in.Rescans, in.Overflows = s.Settling, s.Incomplete, s.Rescans, s.Overflows
		if s.Mode != "" {
			in.Watch = s.Mode
		}
	}
	return r, nil
}

func (l *liveSource) Retry(paths []string, failed bool) ([]string, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	marked, err := uploader.MarkRetry(l.st, abs, failed)
	if err != nil {
		return nil, err
	}
	for _, p := range marked {
		l.fin.Forget(p)
	}
	if len(marked) > 0 {
		l.log.Info("files sent through again on request", "files", len(marked))
	}
	return marked, nil
}

func (l *liveSource) APICounter() *api.Counter { return l.client.Counter() }

// PlanReprocess says what processing paths again sends and costs.
func (l *liveSource) PlanReprocess(paths []string) (admin.ReprocessAnswer, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return admin.ReprocessAnswer{}, err
	}
	p, err := uploader.PlanReprocess(l.st, abs)
	if err != nil {
		return admin.ReprocessAnswer{}, err
	}
	return admin.ReprocessAnswer{Files: p.Files, Pages: p.Pages, Unknown: p.Unknown, Skipped: p.Skipped}, nil
}

// Reprocess processes files again on purpose (finished ones included),
// each under a new idempotency key: it is charged again.
func (l *liveSource) Reprocess(paths []string) ([]string, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	marked, err := uploader.MarkReprocess(l.st, abs)
	if err != nil {
		return nil, err
	}
	for _, p := range marked {
		l.fin.Forget(p)
	}
	if len(marked) > 0 {
		l.log.Info("files processed again on request (charged again)", "files", len(marked))
	}
	return marked, nil
}

func absPaths(paths []string) ([]string, error) {
	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		abs = append(abs, a)
	}
	return abs, nil
}
