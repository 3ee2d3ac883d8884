package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/service"
)

func TestCheckInstallableRefusesLinuxWithoutSystemd(t *testing.T) {
	for _, tc := range []struct {
		goos, system string
		ok           bool
	}{
		{"linux", "linux-systemd", true},
		{"linux", "unix-systemv", false},
		{"linux", "linux-openrc", false},
		{"linux", "linux-upstart", false},
		{"linux", "", false},
		{"windows", "windows-service", true},
		{"darwin", "darwin-launchd", true},
	} {
		err := service.CheckInstallable(tc.goos, tc.system)
		if (err == nil) != tc.ok {
			t.Errorf("%s/%s: err = %v, want ok=%v", tc.goos, tc.system, err, tc.ok)
		}
		if err != nil {
			for _, want := range []string{"does not run systemd", "ppsync run -c", "/etc/ppsync/env", "ppsync user"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s/%s: message lacks %q: %v", tc.goos, tc.system, want, err)
				}
			}
		}
	}
}

func TestParseSystemdShow(t *testing.T) {
	for _, tc := range []struct {
		out      string
		phase    service.Phase
		restarts int
		err      bool
	}{
		{"ActiveState=active\nSubState=running\nNRestarts=0\n", service.PhaseRunning, 0, false},
		{"ActiveState=activating\nSubState=auto-restart\nNRestarts=3\n", service.PhaseStopped, 3, false},
		{"ActiveState=activating\nSubState=start\nNRestarts=0\n", service.PhaseStarting, 0, false},
		{"ActiveState=failed\nSubState=failed\nNRestarts=5\n", service.PhaseStopped, 5, false},
		{"ActiveState=inactive\nSubState=dead\n", service.PhaseStopped, 0, false},
		{"garbage", 0, 0, true},
	} {
		st, err := service.ParseSystemdShow(tc.out)
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v", tc.out, err)
			continue
		}
		if err == nil && (st.Phase != tc.phase || st.Restarts != tc.restarts) {
			t.Errorf("%q: got %+v, want phase %d restarts %d", tc.out, st, tc.phase, tc.restarts)
		}
	}
}

// script returns a probe that answers states in turn, then repeats the last.
func script(states ...service.State) func(context.Context) (service.State, error) {
	i := 0
	return func(context.Context) (service.State, error) {
		st := states[min(i, len(states)-1)]
		i++
		return st, nil
	}
}

func TestConfirmRunning(t *testing.T) {
	run := service.State{Phase: service.PhaseRunning, Detail: "running"}
	starting := service.State{Phase: service.PhaseStarting, Detail: "start pending"}
	died := service.State{Phase: service.PhaseStopped, Detail: "failed"}
	restarted := service.State{Phase: service.PhaseRunning, Restarts: 1, Detail: "restarted"}
	// The cases that end by a scripted event hold for a minute: they return
	// at that event however slowly a loaded machine runs the probes, where
	// a short hold could end before the script gets there.
	const short, long = 30 * time.Millisecond, time.Minute
	for _, tc := range []struct {
		name   string
		probe  func(context.Context) (service.State, error)
		hold   time.Duration
		errHas string
	}{
		{"stays running", script(starting, run), short, ""},
		{"dies at once", script(died), long, "stopped right after starting"},
		{"dies after a while", script(run, run, run, died), long, "stopped right after starting"},
		{"restarted by its manager", script(run, run, restarted), long, "restarting it"},
		{"never gets going", script(starting), short, "still not running"},
		{"manager unreachable", func(context.Context) (service.State, error) { return service.State{}, errors.New("no bus") }, long, "no bus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := service.ConfirmRunning(context.Background(), tc.probe, tc.hold, time.Millisecond)
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

func TestConfirmRunningStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := service.ConfirmRunning(ctx, script(service.State{Phase: service.PhaseRunning}), time.Hour, time.Millisecond)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
