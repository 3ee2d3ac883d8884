package daemon

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webui"
)

// creditSampleEvery is how often the credit balance the uploader knows is
// recorded for the burn rate (the recorder keeps about one sample a minute).
const creditSampleEvery = 5 * time.Second

// adminOptions are the admin endpoint's options for cfg: its own routes,
// the status page at "/", and the protection (credentials for all but
// /healthz, cross-site refusal) and TLS around both.
func adminOptions(cfg *config.Config, live *liveSource, st *state.Store, rec *activity.Recorder, log *slog.Logger) (admin.Options, error) {
	o := admin.OptionsFor(cfg)
	sec, tc, up, err := webui.FromConfig(cfg.Admin)
	if err != nil {
		return o, err
	}
	up.Extensions = uploadExtensions(cfg.Inboxes)
	up.Inboxes = cfg.Inboxes
	src := store.NewFiles(st, cfg.Inboxes).WithLog(log.With("component", "webui"))
	o.Page = webui.New(webui.Options{Reader: src, Live: live, Activity: rec, Upload: up, Log: log.With("component", "webui"),
		Inboxes: cfg.Inboxes})
	o.History = src
	sec.Log = log.With("component", "admin")
	o.Security = sec
	o.TLS = tc
	o.Activity = rec
	return o, nil
}

// uploadExtensions are the file endings every inbox accepts by its types
// ("*.pdf" → ".pdf"), in the order first met.
func uploadExtensions(inboxes []config.Inbox) []string {
	var exts []string
	for _, in := range inboxes {
		types := in.Types
		if len(types) == 0 {
			types = config.DefaultTypes()
		}
		for _, t := range types {
			if e, ok := strings.CutPrefix(strings.ToLower(t), "*"); ok && strings.HasPrefix(e, ".") && !slices.Contains(exts, e) {
				exts = append(exts, e)
			}
		}
	}
	return exts
}

// recording records every document the API processed in rec (the page's
// throughput and latency, /metrics' latency histogram: from the file being
// seen to its output being written), then hands the output on to next
// (which may be nil). Refused files, never sent, are not counted.
func recording(rec *activity.Recorder, next finish.Sink) finish.Sink {
	return finish.SinkFunc(func(ctx context.Context, w finish.Written) {
		if w.Document != nil {
			// The latency the state keeps for the file: the same after a restart.
			latency := w.File.Updated.Sub(w.File.FirstSeen)
			if w.File.Updated.IsZero() {
				latency = time.Since(w.File.FirstSeen)
			}
			rec.Result(latency, w.File.Pages)
		}
		if next != nil {
			next.Written(ctx, w)
		}
	})
}

// sampleCredits records the credit balance the uploader knows (the API's
// last answer less the batches in flight, so it moves with each
// submission) until ctx ends.
func sampleCredits(ctx context.Context, rec *activity.Recorder, credits func() (int, bool, bool)) {
	t := time.NewTicker(creditSampleEvery)
	defer t.Stop()
	for {
		if n, known, _ := credits(); known {
			rec.Credits(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
