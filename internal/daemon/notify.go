package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/notify"
	"github.com/ppsync/ppsync/internal/state"
)

// notifyHook connects the [[notify]] targets to the daemon: it feeds the
// notifier every finished file (without blocking: Failed and Finished only
// append under a lock), lends it the live health, and keeps the marker
// that tells the next start whether this run ended cleanly.
type notifyHook struct {
	n       *notify.Notifier // nil without [[notify]]
	src     *notifySource
	targets []notify.Configured
	marker  string
	state   string // the state file's path
	crashed string
	log     *slog.Logger
}

// RunningMarker is the file beside the state that exists while a daemon
// runs on it: found at start, it means the last run did not end cleanly.
func RunningMarker(statePath string) string { return statePath + ".running" }

// newNotifyHook resolves the targets and makes the notifier (o tunes it;
// its targets, logger and source are set here).
func newNotifyHook(cfg *config.Config, st *state.Store, rec *activity.Recorder, o notify.Options, log *slog.Logger) (*notifyHook, error) {
	h := &notifyHook{marker: RunningMarker(cfg.State.Path), state: cfg.State.Path, log: log.With("component", "notify")}
	if len(cfg.Notify) == 0 {
		return h, nil
	}
	ts, err := notify.FromConfig(cfg, os.Getenv, nil)
	if err != nil {
		return nil, err
	}
	h.targets = ts
	h.src = &notifySource{rec: rec, st: st}
	o.Targets, o.Logger, o.Source = h.targets, h.log, h.src
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	h.n = notify.New(o)
	return h, nil
}

// lend gives the notifier the live health to read.
func (h *notifyHook) lend(live *liveSource) {
	if h.src != nil {
		h.src.live = live
	}
}

// Recover reports a last run that did not end cleanly (its marker is still
// there) and lays this run's marker.
func (h *notifyHook) Recover(context.Context) error {
	if prev, err := os.ReadFile(h.marker); err == nil {
		h.crashed = fmt.Sprintf("The last run of ppsync on %s did not end cleanly (%s); it was killed, crashed, or the machine lost power.\n"+
			"Nothing is lost: files in flight are taken up again. If this repeats, look at the service's log (journalctl -u ppsync).",
			h.state, strings.TrimSpace(string(prev)))
		h.log.Warn("the last run did not end cleanly", "state", h.state, "marker", h.marker)
	}
	stamp := fmt.Sprintf("started %s, pid %d", time.Now().Format(time.RFC3339), os.Getpid())
	if err := os.WriteFile(h.marker, []byte(stamp+"\n"), 0o600); err != nil {
		h.log.Warn("cannot write the marker of a running daemon; a crash will not be reported at the next start", "file", h.marker, "error", err)
	}
	if h.n != nil && h.crashed != "" {
		h.n.Restarted(h.crashed)
	}
	return nil
}

// Run runs the notifier until ctx ends, then removes the marker: this run
// ends cleanly.
func (h *notifyHook) Run(ctx context.Context) error {
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
func (h *notifyHook) Written(_ context.Context, w finish.Written) {
	if h.n == nil {
		return
	}
	f := w.File
	switch {
	case w.Document != nil:
		h.n.Finished(time.Now(), f.Pages)
	case f.State == state.FileFailed || f.State == state.FileInvalid:
		h.n.Failed(notify.Failure{Path: f.Path, Code: f.Code, Reason: f.Reason, At: time.Now()})
	}
}

// notifySource is what the notifier reads from the daemon.
type notifySource struct {
	live *liveSource
	rec  *activity.Recorder
	st   *state.Store
}

func (s *notifySource) Health() notify.Health {
	var h notify.Health
	if rep, err := s.live.Report(); err == nil {
		for _, in := range rep.Inboxes {
			h.Inboxes = append(h.Inboxes, notify.InboxHealth{Path: in.Path, Healthy: in.Healthy == nil || *in.Healthy, Error: in.Error})
		}
		h.Credits = rep.CreditsAvailable
	}
	if f := s.live.api.fault(); f != "" {
		h.APIDown, h.APIError = true, f
	}
	snap := s.rec.Snapshot()
	h.RunsOutInDays, h.BurnPerDay = snap.RunsOutInDays, snap.BurnPerDay
	if h.Credits == nil {
		h.Credits = snap.Credits
	}
	return h
}

func (s *notifySource) FailedBetween(from, to time.Time, limit int) ([]notify.Failure, int, error) {
	var out []notify.Failure
	total := 0
	err := s.st.View(func(tx *state.Tx) error {
		return tx.FilesWithoutResult(func(f state.File) error {
			if f.State == state.FileGone || f.Updated.Before(from) || !f.Updated.Before(to) {
				return nil
			}
			total++
			if len(out) < limit {
				out = append(out, notify.Failure{Path: f.Path, Code: f.Code, Reason: f.Reason, At: f.Updated})
			}
			return nil
		})
	})
	return out, total, err
}

// withMetrics adds the notifier's counters to the admin endpoint's
// /metrics.
func (h *notifyHook) withMetrics(o admin.Options) admin.Options {
	if h.n != nil {
		o.Collectors = append(o.Collectors, h.n)
	}
	return o
}
