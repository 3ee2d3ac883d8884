package daemon

import (
	"context"
	"log/slog"
	"os"

	"github.com/ppsync/ppsync/internal/config"
)

// Reload says when and how a serving daemon reads its config again.
type Reload struct {
	// Signal delivers SIGHUP (any value: a reload is asked for).
	Signal <-chan os.Signal
	// Path is the config file read again; Getenv resolves its API key.
	Path   string
	Getenv func(string) string
}

// Serve runs the daemon with o until ctx ends (or the run stops on its
// own: its summary and error are returned). At each signal on r.Signal it
// reads the config again: when it is valid, the pipeline stops gracefully
// (results in flight are kept in the state, leases released) and starts
// again with the new config in this process; when it is not, it says why
// and keeps running with the old one.
func Serve(ctx context.Context, o Options, r Reload) (Summary, error) {
	type outcome struct {
		sum Summary
		err error
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		runCtx, stopRun := context.WithCancel(ctx)
		done := make(chan outcome, 1)
		go func() {
			sum, err := Run(runCtx, o)
			done <- outcome{sum, err}
		}()
		var next *config.Config
		var nextKey string
		for next == nil {
			select {
			case res := <-done:
				stopRun()
				return res.sum, res.err
			case <-r.Signal:
				next, nextKey = r.load(log)
			}
		}
		log.Info("config reloaded: stopping the pipeline and starting it again with it", "config", r.Path, "inboxes", len(next.Inboxes))
		stopRun()
		if res := <-done; res.err != nil {
			return res.sum, res.err
		}
		o.Config, o.APIKey = next, nextKey
	}
}

// load reads the config again after SIGHUP; it returns nil (and logs why)
// when it cannot be used.
func (r Reload) load(log *slog.Logger) (*config.Config, string) {
	cfg, err := config.Load(r.Path)
	if err != nil {
		log.Error("SIGHUP: the config was not reloaded; still running with the previous one. Fix it and send SIGHUP again",
			"config", r.Path, "error", err)
		return nil, ""
	}
	key, err := cfg.ResolveAPIKey(r.Getenv)
	if err != nil {
		log.Error("SIGHUP: the config was not reloaded (no API key); still running with the previous one",
			"config", r.Path, "error", err)
		return nil, ""
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	return cfg, key
}
