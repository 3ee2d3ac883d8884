package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/logx"
	"github.com/ppsync/ppsync/internal/memlimit"
	"github.com/ppsync/ppsync/internal/report"
)

// loadConfig reads the config; its warnings go to log, or, without one,
// to stderr as "warning:" lines.
func (m *Main) loadConfig(path string, log *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	warnings := cfg.Warnings
	if w := cfg.KeyFileWarning(); w != "" {
		warnings = append(warnings, w)
	}
	for _, w := range warnings {
		if log != nil {
			log.Warn(w)
		} else {
			fmt.Fprintln(m.Stderr, "warning:", w)
		}
	}
	return cfg, nil
}

func (m *Main) runDaemon(ctx context.Context, args []string) error {
	fs := m.flags("run", "run -c FILE [--once]")
	cfgPath := fs.String("c", "", "config file (required)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	once := fs.Bool("once", false, "process what is in the inboxes now, wait for every result, then exit (0 all done, 1 some failed, 2 could not run)")
	asService := fs.Bool("service", false, "Windows: run under the Service Control Manager (the command line 'ppsync install' writes has it)")
	instance := fs.String("name", "", "with --service: the service instance 'ppsync install --name' made (its log folder and Event Log source)")
	if err := parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(*cfgPath)
	if err != nil {
		fs.Usage()
		return err
	}
	// The config says how to log, so it is read before anything is
	// logged; its warnings then go through the logger (JSON from the first line).
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	var view *progressView
	logOut, logCfg := m.Stderr, cfg.Log
	if *once {
		f, isFile := m.Stderr.(*os.File)
		view = newProgressView(m.Stderr, isFile && term.IsTerminal(int(f.Fd())))
		if view.terminal {
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
	key, err := cfg.ResolveAPIKey(m.Getenv)
	if err != nil {
		if cfg.Log.Format == "json" {
			log.Error("cannot run", "error", err)
			return &exitError{code: exitCantRun}
		}
		return err
	}
	// The daemon's heap follows its live data (see internal/memlimit).
	mctx, stopMem := context.WithCancel(ctx)
	var mem sync.WaitGroup
	mem.Go(func() { memlimit.Run(mctx, memlimit.Floor, memlimit.Every, m.Getenv) })
	defer func() { stopMem(); mem.Wait() }()
	if runtime.GOOS == "windows" && (*asService || underServiceManager()) && !*once {
		return m.runService(cfg, key, *instance)
	}
	var sum daemon.Summary
	if *once {
		o := daemon.Options{Config: cfg, APIKey: key, Once: true, Logger: log}
		var shown sync.WaitGroup
		pctx, stopProgress := context.WithCancel(ctx)
		if view != nil {
			view.log = log
			o.Progress = func(status func() (report.Report, error)) {
				shown.Go(func() { view.run(pctx, status) })
			}
		}
		sum, err = daemon.Run(ctx, o)
		stopProgress()
		shown.Wait()
		if view != nil {
			view.clear()
		}
	} else {
		sum, err = daemon.Serve(ctx, daemon.Options{Config: cfg, APIKey: key, Logger: log},
			daemon.Reload{Signal: m.Reload, Path: path, Getenv: m.Getenv})
	}
	err = withKeySource(err, cfg, m.Getenv)
	if err != nil {
		if cfg.Log.Format == "json" {
			log.Error("cannot run", "error", err)
			return &exitError{code: exitCantRun}
		}
		return &exitError{code: exitCantRun, err: err}
	}
	if !*once {
		log.Info("ppsync stopped", "done", sum.Done, "failed", sum.Failed+sum.Invalid, "waiting", sum.Waiting)
		return nil
	}
	fmt.Fprintf(m.Stdout, "%d done, %d failed, %d refused before upload, %d waiting, %d deleted\n",
		sum.Done, sum.Failed, sum.Invalid, sum.Waiting, sum.Gone)
	if !sum.OK() {
		for _, p := range sum.Problems {
			fmt.Fprintln(m.Stdout, "  "+p)
		}
		return &exitError{code: exitFailed, err: errors.New(plural(len(sum.Problems), "file") + " did not get a result; their .error.json files (or the lines above) say why")}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(what, "s"))
}
