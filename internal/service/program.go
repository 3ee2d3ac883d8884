package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	ks "github.com/kardianos/service"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/fsinfo"
)

// exitCantRun is ppsync's exit code for "could not run".
const exitCantRun = 2

// UnderServiceManager reports a Windows service start, which must talk to
// the Service Control Manager. systemd and launchd run `ppsync run` as a
// plain process that stops on SIGTERM, so they need nothing special. The
// service's command line says so with --service; this detection (the
// parent is services.exe in session 0) covers services installed without
// it. Wine's service manager does not run in session 0, so there only
// --service works.
func UnderServiceManager() bool {
	return runtime.GOOS == "windows" && !ks.Interactive()
}

// Program adapts the daemon to a service manager: Start returns at once,
// Stop cancels and waits for in-flight writes to finish. A daemon that
// stops on its own (bad key, unreadable state) ends the process with exit
// code 2 instead of leaving a service that reports "running" and does
// nothing; the Service Control Manager then applies the recovery actions.
type Program struct {
	Log  *slog.Logger
	Run  func(context.Context) error
	Exit func(code int)

	cancel context.CancelFunc
	done   chan error
}

// Start runs the daemon in the background.
func (p *Program) Start(ks.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		err := p.Run(ctx)
		if ctx.Err() == nil {
			p.Log.Error("ppsync stopped on its own; the service ends so that it is restarted", "error", err)
			p.Exit(exitCantRun)
		}
		p.done <- err
	}()
	return nil
}

// Stop cancels the daemon and waits for it.
func (p *Program) Stop(ks.Service) error {
	p.cancel()
	select {
	case err := <-p.done:
		return err
	case <-time.After(25 * time.Second): // inside Windows' default stop budget
		return fmt.Errorf("ppsync did not stop within 25 s")
	}
}

// RunWindows runs the daemon (run, with the logger it is given) under the
// Windows Service Control Manager as the service instance, logging
// through handler to a rotating file in WindowsLogDir and warnings and
// errors to the Event Log too.
func RunWindows(cfg *config.Config, instance string, getenv func(string) string, handler func(io.Writer) slog.Handler,
	run func(context.Context, *slog.Logger) error, exit func(int)) error {
	if err := CheckInstance(instance); err != nil {
		return err
	}
	name := ServiceName("windows", instance)
	for _, in := range cfg.Inboxes {
		if fsinfo.IsMappedDrive(in.Path) {
			return fmt.Errorf("inbox %s is on a mapped drive letter, which a Windows service cannot see: use its UNC path (\\\\server\\share\\folder) in %s", in.Path, cfg.File)
		}
	}
	logDir := WindowsLogDir(programData(getenv), instance)
	file := &lumberjack.Logger{Filename: filepath.Join(logDir, "ppsync.log"), MaxSize: 10, MaxBackups: 5, MaxAge: 30}
	defer file.Close()
	sysLog, err := openSystemLog(name)
	if err != nil {
		sysLog = nil // the log file still has everything
	}
	log := slog.New(&teeHandler{base: handler(file), sys: sysLog})
	prg := &Program{Log: log, Run: func(ctx context.Context) error { return run(ctx, log) }, Exit: exit}
	return runUnderSCM(prg, name)
}

// systemLog is the Windows Event Log.
type systemLog interface {
	Error(msg string) error
	Warning(msg string) error
}

// teeHandler sends every record to base, and warnings and errors also to
// the system log (the Windows Event Log).
type teeHandler struct {
	base slog.Handler
	sys  systemLog
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.base.Handle(ctx, r)
	if h.sys != nil && r.Level >= slog.LevelWarn {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += fmt.Sprintf(" %s=%v", a.Key, a.Value)
			return true
		})
		if r.Level >= slog.LevelError {
			_ = h.sys.Error(msg)
		} else {
			_ = h.sys.Warning(msg)
		}
	}
	return err
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{base: h.base.WithAttrs(as), sys: h.sys}
}

func (h *teeHandler) WithGroup(g string) slog.Handler {
	return &teeHandler{base: h.base.WithGroup(g), sys: h.sys}
}
