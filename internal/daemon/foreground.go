package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ppsync/ppsync/internal/codepages"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/diagnose"
	"github.com/ppsync/ppsync/internal/logx"
	"github.com/ppsync/ppsync/internal/memlimit"
	"github.com/ppsync/ppsync/internal/progress"
	"github.com/ppsync/ppsync/internal/report"
)

// Command is what `ppsync run` asks for once its flags are read.
type Command struct {
	// Path is the config file.
	Path string
	// Once processes what is in the inboxes now and returns when every
	// file has a result; otherwise the daemon serves until ctx ends,
	// reading its config again at each Reload signal.
	Once bool
	// Log is where the log goes; with Once on a terminal it also shows the
	// progress line (and the log keeps warnings and errors only).
	Log    io.Writer
	Getenv func(string) string
	Reload <-chan os.Signal
	// Service, when set, runs the daemon under the service manager instead
	// (not with Once), with the config and API key resolved.
	Service func(cfg *config.Config, key string) error
}

// LoggedError is an error already written to a JSON log as "cannot run":
// the command exits without printing it again.
type LoggedError struct{ Err error }

func (e *LoggedError) Error() string { return e.Err.Error() }
func (e *LoggedError) Unwrap() error { return e.Err }

// RunCommand loads the config (its warnings go to the log it sets up),
// resolves the API key, keeps the heap limit following the live data (see
// internal/memlimit) and the code it no longer runs out of its resident
// memory (internal/codepages), and runs the daemon as c says. Every error means
// the daemon could not run; with a JSON log it is a *LoggedError.
func RunCommand(ctx context.Context, c Command) (Summary, error) {
	// The config says how to log, so it is read before anything is
	// logged; its warnings then go through the logger (JSON from the first line).
	cfg, err := config.Load(c.Path)
	if err != nil {
		return Summary{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	var view *progress.View
	logOut, logCfg := c.Log, cfg.Log
	if c.Once {
		view = progress.ViewOn(c.Log)
		if view.Terminal {
			// The progress line stands for the per-file lines; warnings
			// and errors still print above it.
			logOut = view
			if logCfg.Level == "info" {
				logCfg.Level = "warn"
			}
		}
	}
	log := logx.New(logOut, logCfg)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if w := cfg.KeyFileWarning(); w != "" {
		log.Warn(w)
	}
	cantRun := func(err error) error {
		if cfg.Log.Format == "json" {
			log.Error("cannot run", "error", err)
			return &LoggedError{Err: err}
		}
		return err
	}
	key, err := cfg.ResolveAPIKey(c.Getenv)
	if err != nil {
		return Summary{}, cantRun(err)
	}
	mctx, stopMem := context.WithCancel(ctx)
	var mem sync.WaitGroup
	mem.Go(func() { memlimit.Run(mctx, memlimit.Floor, memlimit.Every, c.Getenv) })
	mem.Go(func() { codepages.Run(mctx, codepages.Every) })
	defer func() { stopMem(); mem.Wait() }()
	if c.Service != nil && !c.Once {
		return Summary{}, c.Service(cfg, key)
	}
	var sum Summary
	if c.Once {
		o := Options{Config: cfg, APIKey: key, Once: true, Logger: log}
		var shown sync.WaitGroup
		pctx, stopProgress := context.WithCancel(ctx)
		view.Log = log
		o.Progress = func(status func() (report.Report, error)) {
			shown.Go(func() { view.Run(pctx, status) })
		}
		sum, err = Run(ctx, o)
		stopProgress()
		shown.Wait()
		view.Clear()
	} else {
		sum, err = Serve(ctx, Options{Config: cfg, APIKey: key, Logger: log},
			Reload{Signal: c.Reload, Path: c.Path, Getenv: c.Getenv})
	}
	if err = diagnose.WithKeySource(err, cfg, c.Getenv); err != nil {
		return sum, cantRun(err)
	}
	if !c.Once {
		log.Info("ppsync stopped", "done", sum.Done, "failed", sum.Failed+sum.Invalid, "waiting", sum.Waiting)
	}
	return sum, nil
}
