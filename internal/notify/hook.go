package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// RunningMarker is the file beside the state that exists while a daemon
// runs on it: found at start, it means the last run did not end cleanly.
func RunningMarker(statePath string) string { return statePath + ".running" }

// HookOptions configures a Hook.
type HookOptions struct {
	// Config gives the [[notify]] targets and the state file's path.
	Config *config.Config
	// Store is read for the files that failed (the digests).
	Store *state.Store
	// Activity is read for the credits' burn rate.
	Activity *activity.Recorder
	// Tune tunes the notifier (tests: a fast clock and back-off); its
	// targets, logger and source are set by NewHook.
	Tune Options
	// Getenv resolves the targets' secrets (os.Getenv when nil).
	Getenv func(string) string
	Log    *slog.Logger
}

// Hook is the notifier as one of the daemon's components: it is fed every
// finished file (as a finish.Sink, without blocking: Failed and Finished
// only append under a lock), reads the live health it is lent, and keeps
// the marker that tells the next start whether this run ended cleanly.
type Hook struct {
	n       *Notifier // nil without [[notify]]
	src     *hookSource
	targets []Configured
	marker  string
	state   string // the state file's path
	log     *slog.Logger
}

// NewHook resolves the targets of o.Config and makes the notifier.
func NewHook(o HookOptions) (*Hook, error) {
	cfg := o.Config
	h := &Hook{marker: RunningMarker(cfg.State.Path), state: cfg.State.Path, log: o.Log.With("component", "notify")}
	if len(cfg.Notify) == 0 {
		return h, nil
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ts, err := FromConfig(cfg, getenv, nil)
	if err != nil {
		return nil, err
	}
	h.targets = ts
	h.src = &hookSource{rec: o.Activity, st: o.Store}
	no := o.Tune
	no.Targets, no.Logger, no.Source = h.targets, h.log, h.src
	if no.Host == "" {
		no.Host, _ = os.Hostname()
	}
	h.n = New(no)
	return h, nil
}

// Lend gives the notifier the live health to read: the status report and
// the API's outage ("" while it answers). Call it before Run.
func (h *Hook) Lend(status func() (report.Report, error), apiFault func() string) {
	if h.src != nil {
		h.src.status, h.src.apiFault = status, apiFault
	}
}

// Collectors are the notifier's metrics for /metrics (none without
// [[notify]]).
func (h *Hook) Collectors() []prometheus.Collector {
	if h.n == nil {
		return nil
	}
	return []prometheus.Collector{h.n}
}

// Recover reports a last run that did not end cleanly (its marker is still
// there) and lays this run's marker.
func (h *Hook) Recover(context.Context) error {
	var crashed string
	if prev, err := os.ReadFile(h.marker); err == nil {
		crashed = fmt.Sprintf("The last run of ppsync on %s did not end cleanly (%s); it was killed, crashed, or the machine lost power.\n"+
			"Nothing is lost: files in flight are taken up again. If this repeats, look at the service's log (journalctl -u ppsync).",
			h.state, strings.TrimSpace(string(prev)))
		h.log.Warn("the last run did not end cleanly", "state", h.state, "marker", h.marker)
	}
	stamp := fmt.Sprintf("started %s, pid %d", time.Now().Format(time.RFC3339), os.Getpid())
	if err := os.WriteFile(h.marker, []byte(stamp+"\n"), 0o600); err != nil {
		h.log.Warn("cannot write the marker of a running daemon; a crash will not be reported at the next start", "file", h.marker, "error", err)
	}
	if h.n != nil && crashed != "" {
		h.n.Restarted(crashed)
	}
	return nil
}

// Run runs the notifier until ctx ends, then removes the marker: this run
// ends cleanly.
func (h *Hook) Run(ctx context.Context) error {
	if h.n != nil && ctx.Err() == nil { // not when the run never started
		for _, t := range h.targets {
			h.log.Info("notifications on", "target", t.Config.Name, "where", t.Target.Where, "events", strings.Join(t.Config.Events, ","))
		}
		h.n.Run(ctx)
	}
	<-ctx.Done()
	if err := os.Remove(h.marker); err != nil && !os.IsNotExist(err) {
		h.log.Warn("cannot remove the marker of a running daemon; the next start will report a crash", "file", h.marker, "error", err)
	}
	return nil
}

// Written implements finish.Sink.
func (h *Hook) Written(_ context.Context, w finish.Written) {
	if h.n == nil {
		return
	}
	f := w.File
	switch {
	case w.Document != nil:
		h.n.Finished(time.Now(), f.Pages)
	case f.State == state.FileFailed || f.State == state.FileInvalid:
		h.n.Failed(Failure{Path: f.Path, Code: f.Code, Reason: f.Reason, At: time.Now()})
	}
}

// hookSource is what the notifier reads from the running daemon.
type hookSource struct {
	status   func() (report.Report, error)
	apiFault func() string
	rec      *activity.Recorder
	st       *state.Store
}

func (s *hookSource) Health() Health {
	var h Health
	if rep, err := s.status(); err == nil {
		for _, in := range rep.Inboxes {
			h.Inboxes = append(h.Inboxes, InboxHealth{Path: in.Path, Healthy: in.Healthy == nil || *in.Healthy, Error: in.Error})
		}
		h.Credits = rep.CreditsAvailable
	}
	if f := s.apiFault(); f != "" {
		h.APIDown, h.APIError = true, f
	}
	snap := s.rec.Snapshot()
	h.RunsOutInDays, h.BurnPerDay = snap.RunsOutInDays, snap.BurnPerDay
	if h.Credits == nil {
		h.Credits = snap.Credits
	}
	return h
}

func (s *hookSource) FailedBetween(from, to time.Time, limit int) ([]Failure, int, error) {
	var out []Failure
	total := 0
	err := s.st.View(func(tx *state.Tx) error {
		return tx.FilesWithoutResult(func(f state.File) error {
			if f.State == state.FileGone || f.Updated.Before(from) || !f.Updated.Before(to) {
				return nil
			}
			total++
			if len(out) < limit {
				out = append(out, Failure{Path: f.Path, Code: f.Code, Reason: f.Reason, At: f.Updated})
			}
			return nil
		})
	})
	return out, total, err
}
