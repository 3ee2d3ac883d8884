package webui

import (
	"context"
	"github.com/ppsync/ppsync/internal/control/store/storetest"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// fixture is a real state file with two inboxes and a fake daemon over it.
type fixture struct {
	t       *testing.T
	st      *state.Store
	cfg     *config.Config
	reader  *store.Files
	live    *fakeLive
	act     *activity.Recorder
	inboxes []string
}

type fakeLive struct {
	st  *state.Store
	cfg *config.Config

	mu        sync.Mutex
	started   time.Time // the daemon's start, in its report (zero: not said)
	retried   [][]string
	reprocess [][]string
}

func (l *fakeLive) Status(context.Context) (report.Report, error) {
	r, err := store.Report(l.st, l.cfg, false)
	credits := 480
	r.CreditsAvailable = &credits
	r.Daemon.Running = true
	l.mu.Lock()
	r.Daemon.Started = l.started
	l.mu.Unlock()
	r.LastPoll = time.Now().Add(-3 * time.Second)
	for i := range r.Inboxes {
		ok := true
		r.Inboxes[i].Healthy = &ok
	}
	return r, err
}

func (l *fakeLive) Retry(_ context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retried = append(l.retried, req.Paths)
	return control.RetryAnswer{Retried: req.Paths}, nil
}

func (l *fakeLive) PlanReprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	return control.ReprocessAnswer{Files: paths}, nil
}

func (l *fakeLive) Reprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reprocess = append(l.reprocess, paths)
	return control.ReprocessAnswer{Files: paths, Reprocessed: paths}, nil
}

func (l *fakeLive) WebhookTest(context.Context) (control.WebhookTestAnswer, error) {
	return control.WebhookTestAnswer{}, control.ErrNotRunning
}

func (l *fakeLive) RebuildLedgers(context.Context) (control.RebuildAnswer, error) {
	return control.RebuildAnswer{}, control.ErrNotRunning
}

func (l *fakeLive) calls() (retried, reprocessed [][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.retried...), append([][]string(nil), l.reprocess...)
}

func newFixture(t testing.TB) *fixture {
	st, cfg, paths := storetest.Open(t)
	live := &fakeLive{st: st, cfg: cfg}
	f := &fixture{st: st, cfg: cfg, reader: store.NewFiles(st, cfg.Inboxes), live: live, inboxes: paths}
	f.act = activity.New(nil)
	if tt, ok := t.(*testing.T); ok {
		f.t = tt
	}
	return f
}

// server serves the page over the fixture with o's upload settings.
func (f *fixture) server(tb testing.TB, o Options) *httptest.Server {
	o.Reader, o.Live, o.Activity = f.reader, f.live, f.act
	if o.Inboxes == nil {
		o.Inboxes = f.cfg.Inboxes
	}
	srv := httptest.NewServer(Protect(New(o), Security{Listen: "127.0.0.1:0", NoAuth: true}))
	tb.Cleanup(srv.Close)
	return srv
}

var sampleDoc = storetest.SampleDoc

// add records a file in inbox i in the given file state (see
// storetest.AddFile).
func (f *fixture) add(tb testing.TB, i int, name, st string, pages int, at time.Time) string {
	tb.Helper()
	return storetest.AddFile(tb, f.st, f.inboxes[i], f.cfg.Inboxes[i].ParserID, name, st, pages, at)
}
