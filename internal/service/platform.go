package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CheckInstallable says whether `ppsync install` can install a service on
// goos with the service system kardianos detected (its String(), e.g.
// "linux-systemd", "unix-systemv"; "" when none was found). On Linux only
// systemd is supported: the SysV and OpenRC scripts a generic installer
// writes run as root, without the env file and without hardening, and
// report a daemon that died as started.
func CheckInstallable(goos, system string) error {
	if goos != "linux" || system == "linux-systemd" {
		return nil
	}
	found := system
	if found == "" {
		found = "none"
	}
	return fmt.Errorf("this system does not run systemd (service system found: %s), and ppsync installs itself on Linux only as a hardened systemd unit; "+
		"run it under your own supervisor instead (runit, s6, supervisord, OpenRC's supervise-daemon) as the unprivileged ppsync user, "+
		"with the key in its environment: env $(cat /etc/ppsync/env) ppsync run -c /etc/ppsync/config.toml (see docs/install.md)", found)
}

// Phase is what the service manager says a service is doing.
type Phase int

// Phases a probe reports.
const (
	PhaseStarting Phase = iota // start pending, or not decided yet
	PhaseRunning
	PhaseStopped // stopped, failed, or waiting to be restarted after dying
)

// State is one look at a service.
type State struct {
	Phase    Phase
	Restarts int    // how often the manager restarted it (systemd's NRestarts); 0 where unknown
	Detail   string // the manager's own words, for messages
}

// ConfirmRunning watches a service that was just started for hold and
// fails when it stops, or is restarted by its manager, in that time: a
// daemon that exits at once (bad key, unreadable config) must not be
// reported as started. It also fails when the service is still not
// running when hold ends.
func ConfirmRunning(ctx context.Context, probe func(context.Context) (State, error), hold, every time.Duration) error {
	first, err := probe(ctx)
	if err != nil {
		return fmt.Errorf("ask the service manager for the service's state: %w", err)
	}
	deadline := time.Now().Add(hold)
	last := first
	for {
		if last.Phase == PhaseStopped {
			return fmt.Errorf("the service stopped right after starting (%s)", last.Detail)
		}
		if last.Restarts > first.Restarts {
			return fmt.Errorf("the service died right after starting and its manager is restarting it (%s)", last.Detail)
		}
		if !time.Now().Before(deadline) {
			break
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the service to settle: %w", ctx.Err())
		case <-t.C:
		}
		if last, err = probe(ctx); err != nil {
			return fmt.Errorf("ask the service manager for the service's state: %w", err)
		}
	}
	if last.Phase != PhaseRunning {
		return fmt.Errorf("the service is still not running %s after it was started (%s)", hold, last.Detail)
	}
	return nil
}

// ParseSystemdShow reads the output of
// `systemctl show UNIT --property=ActiveState,SubState,NRestarts`.
// "activating (auto-restart)" is a daemon that died: it counts as stopped.
func ParseSystemdShow(out string) (State, error) {
	props := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			props[k] = v
		}
	}
	active, sub := props["ActiveState"], props["SubState"]
	if active == "" {
		return State{}, fmt.Errorf("systemctl show printed no ActiveState: %q", out)
	}
	st := State{Detail: "systemd: " + active + "/" + sub}
	if n, err := strconv.Atoi(props["NRestarts"]); err == nil {
		st.Restarts = n
	}
	switch {
	case active == "active" && sub == "running":
		st.Phase = PhaseRunning
	case active == "activating" && sub != "auto-restart":
		st.Phase = PhaseStarting
	case active == "active" || active == "reloading":
		st.Phase = PhaseRunning
	default: // inactive, failed, deactivating, activating/auto-restart
		st.Phase = PhaseStopped
	}
	return st, nil
}
