package daemon

import (
	"log/slog"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webui"
)

// adminOptions are the admin endpoint's options for cfg: its own routes,
// the status page at "/", and the protection (credentials for all but
// /healthz, cross-site refusal) and TLS around both.
func adminOptions(cfg *config.Config, live *liveSource, st *state.Store, rec *activity.Recorder, log *slog.Logger) (admin.Options, error) {
	o := admin.OptionsFor(cfg)
	sec, tc, up, err := webui.FromConfig(cfg.Admin)
	if err != nil {
		return o, err
	}
	up.Extensions = stageopts.UploadExtensions(cfg.Inboxes)
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
