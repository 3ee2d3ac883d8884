package lease_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/lease"
)

// A lease on this host and machine, of a process that is gone (or whose
// pid is now someone else's, as when every container runs ppsync as pid
// 1), written for another state file, is never a previous run of ours:
// whatever its pid, host and state path say, a ppsync with another state
// file does not take it over at sight, restarted as often as it likes
// (each start a new observer), with or without the daemon's confirmation
// wait; the lease file stays the holder's. Only a lease watched unchanged
// for the lease period is taken over.
func TestDeadPIDLeaseOfAnotherStateFileIsNeverTakenAtSight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holder  func(mine, other lease.Holder) lease.Holder
		confirm time.Duration
	}{
		{"pid gone", func(_, o lease.Holder) lease.Holder { o.PID = 999999; return o }, 0},
		{"pid gone, daemon's confirmation wait", func(_, o lease.Holder) lease.Holder { o.PID = 999999; return o }, 50 * time.Millisecond},
		{"our pid reused", func(m, o lease.Holder) lease.Holder { o.PID = m.PID; return o }, 0},
		{"same state file name in another folder", func(m, o lease.Holder) lease.Holder {
			o.PID, o.State = 999999, filepath.Join(filepath.Dir(o.State), filepath.Base(m.State))
			return o
		}, 0},
		{"older lease without instance or machine id", func(m, o lease.Holder) lease.Holder {
			o.PID, o.Instance, o.Machine = 999999, "", ""
			return o
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mine := me(t, filepath.Join(t.TempDir(), "state.db"))
			dead := tc.holder(mine, me(t, filepath.Join(t.TempDir(), "other.db")))
			if dead.Host != mine.Host || dead.Instance == mine.Instance || dead.State == mine.State {
				t.Fatalf("bad fixture: %+v vs %+v", dead, mine)
			}
			write(t, dir, dead)
			path := filepath.Join(dir, lease.FileName)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				l, err := lease.Acquire(dir, mine, lease.NewObserver(time.Hour), lease.Options{Confirm: tc.confirm})
				if !errors.Is(err, lease.ErrHeld) {
					if l != nil {
						l.Release()
					}
					t.Fatalf("start %d: the lease of a dead pid of this host for another state file was taken at sight: %v", i+1, err)
				}
				if now, _ := os.ReadFile(path); !bytes.Equal(now, before) {
					t.Fatalf("start %d: the lease file changed: %s", i+1, now)
				}
			}
			obs := lease.NewObserver(300 * time.Millisecond)
			start := time.Now()
			if _, err := lease.Acquire(dir, mine, obs, lease.Options{}); !errors.Is(err, lease.ErrHeld) {
				t.Fatalf("first sight: %v, want ErrHeld", err)
			}
			l, err := acquireWithin(dir, mine, obs, 10*time.Second, 50*time.Millisecond)
			if err != nil {
				t.Fatalf("not taken over after the lease period: %v", err)
			}
			if d := time.Since(start); d < obs.TTL {
				t.Errorf("taken over after %s, before the lease period of %s", d, obs.TTL)
			}
			l.Release()
		})
	}
}
