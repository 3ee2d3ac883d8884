//go:build windows

package service

import (
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

// scmHandler runs the program for the Service Control Manager. It is
// called directly, not through kardianos' Run, which decides by itself
// whether it runs as a service (and decides wrongly under Wine).
type scmHandler struct {
	prg     *Program
	stopErr error
}

func (h *scmHandler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	if err := h.prg.Start(nil); err != nil {
		h.stopErr = err
		return true, exitCantRun
	}
	changes <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range r {
		switch c.Cmd {
		case svc.Interrogate:
			changes <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			changes <- svc.Status{State: svc.StopPending, WaitHint: 30000}
			if err := h.prg.Stop(nil); err != nil {
				h.stopErr = err
				return true, exitCantRun
			}
			return false, 0
		}
	}
	return false, 0
}

// runUnderSCM hands the process to the Service Control Manager until the
// service is stopped.
func runUnderSCM(prg *Program, name string) error {
	h := &scmHandler{prg: prg}
	if err := svc.Run(name, h); err != nil {
		return fmt.Errorf("run as the Windows service %s: %w (run 'ppsync run' without --service outside the Service Control Manager)", name, err)
	}
	return h.stopErr
}

// eventLogWriter writes warnings and errors to the Application log under
// the source 'ppsync install' registers.
type eventLogWriter struct{ l *eventlog.Log }

func openSystemLog(name string) (systemLog, error) {
	l, err := eventlog.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open the Event Log source %s: %w", name, err)
	}
	return eventLogWriter{l}, nil
}

func (w eventLogWriter) Error(msg string) error   { return w.l.Error(1, msg) }
func (w eventLogWriter) Warning(msg string) error { return w.l.Warning(1, msg) }

// programData is the ProgramData folder. The known folder first: a
// service's environment need not have %ProgramData% (Wine's services get
// C:\users\Public there).
func programData(getenv func(string) string) string {
	if p, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0); err == nil && p != "" {
		return p
	}
	if p := getenv("ProgramData"); p != "" {
		return p
	}
	return `C:\ProgramData`
}
