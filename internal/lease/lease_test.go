package lease_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/lease"
)

func write(t *testing.T, dir string, h lease.Holder) {
	t.Helper()
	b, _ := json.Marshal(h)
	if err := os.WriteFile(filepath.Join(dir, lease.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// me builds the holder of a ppsync whose state file is statePath, with its
// instance id kept beside it.
func me(t *testing.T, statePath string) lease.Holder {
	t.Helper()
	id, err := lease.LoadIdentity(statePath)
	if err != nil {
		t.Fatal(err)
	}
	return lease.Me(id, statePath)
}

// acquireWithin tries to take the lease every step until it is taken or d
// passes, and returns the lease (nil if never taken) and the last error.
func acquireWithin(dir string, h lease.Holder, obs *lease.Observer, d, step time.Duration) (*lease.Lease, error) {
	deadline := time.Now().Add(d)
	for {
		l, err := lease.Acquire(dir, h, obs, lease.Options{})
		if err == nil || !errors.Is(err, lease.ErrHeld) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(step)
	}
}

func TestIdentityIsCreatedOnceAndPrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	a, err := lease.LoadIdentity(state)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lease.LoadIdentity(state)
	if err != nil {
		t.Fatal(err)
	}
	if a.Instance == "" || a.Instance != b.Instance {
		t.Fatalf("instance ids %q, %q: want one, kept", a.Instance, b.Instance)
	}
	st, err := os.Stat(state + lease.InstanceSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("instance id file mode %v, want 0600", st.Mode().Perm())
	}
	other, err := lease.LoadIdentity(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Instance == a.Instance {
		t.Error("two state files share an instance id")
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && strings.TrimSpace(string(b)) != a.Machine {
		t.Errorf("machine id %q, want /etc/machine-id's %q", a.Machine, strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile(state+lease.InstanceSuffix, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := lease.LoadIdentity(state); err == nil || !strings.Contains(err.Error(), state+lease.InstanceSuffix) {
		t.Errorf("damaged instance id file: %v, want an error naming it", err)
	}
}

func TestAcquireRefusesALiveHolderAndNamesIt(t *testing.T) {
	dir := t.TempDir()
	a := me(t, filepath.Join(t.TempDir(), "a.db"))
	obs := lease.NewObserver(time.Minute)
	if _, err := lease.Acquire(dir, a, obs, lease.Options{}); err != nil {
		t.Fatal(err)
	}
	b := me(t, filepath.Join(t.TempDir(), "b.db"))
	_, err := lease.Acquire(dir, b, lease.NewObserver(time.Minute), lease.Options{})
	if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), a.Host) || !strings.Contains(err.Error(), a.State) ||
		!strings.Contains(err.Error(), a.Instance) {
		t.Fatalf("err = %v", err)
	}
}

// Two machines with the same hostname (and the default state path): the
// one's live lease is never "a previous run" of the other.
func TestSameHostnameAndStatePathIsNotOurs(t *testing.T) {
	dir := t.TempDir()
	a := me(t, filepath.Join(t.TempDir(), "state.db"))
	other := a
	other.ID, other.Instance, other.Machine = "run-2", "0123456789abcdef0123456789abcdef", "another-machine"
	write(t, dir, other)
	if _, err := lease.Acquire(dir, a, lease.NewObserver(time.Minute), lease.Options{}); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("a lease of another machine with our hostname and state path taken at once: %v", err)
	}
}

func TestOwnLeftoverIsTakenOverAtOnce(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.db")
	prev := me(t, state)
	prev.PID = 999999
	write(t, dir, prev)
	now := me(t, state) // the next run of the same state file
	l, err := lease.Acquire(dir, now, lease.NewObserver(time.Hour), lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if _, err := os.Stat(filepath.Join(dir, lease.FileName)); !os.IsNotExist(err) {
		t.Fatal("lease not removed on release")
	}
}

// A live holder whose clock is an hour off either way keeps its lease: its
// renewals are seen, whatever time they carry.
func TestSkewedLiveHolderKeepsItsLease(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour, time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			dir := t.TempDir()
			holder, err := lease.Acquire(dir, me(t, filepath.Join(t.TempDir(), "h.db")), lease.NewObserver(time.Minute),
				lease.Options{Now: func() time.Time { return time.Now().Add(skew) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if err := holder.Renew(); err != nil {
						t.Errorf("holder lost its lease: %v", err)
						return
					}
					time.Sleep(40 * time.Millisecond)
				}
			}()
			ttl := 300 * time.Millisecond
			other := me(t, filepath.Join(t.TempDir(), "o.db"))
			obs := lease.NewObserver(ttl)
			if l, err := acquireWithin(dir, other, obs, 5*ttl, 30*time.Millisecond); !errors.Is(err, lease.ErrHeld) {
				if l != nil {
					l.Release()
				}
				t.Fatalf("a live holder whose clock is %s off lost its lease: %v", skew, err)
			}
			cancel()
			wg.Wait()
		})
	}
}

// A dead holder whose clock ran a day fast is taken over after the lease
// period, not a day later.
func TestDeadHolderFromTheFutureIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	future := time.Now().Add(24 * time.Hour)
	write(t, dir, lease.Holder{ID: "x1", Instance: "fedcba9876543210fedcba9876543210", Machine: "m2", Host: "scanner-pc-2",
		PID: 4242, State: `C:\ProgramData\ppsync\state.db`, Started: future, Renewed: future, Beat: 7})
	obs := lease.NewObserver(300 * time.Millisecond)
	mine := me(t, filepath.Join(t.TempDir(), "state.db"))
	if _, err := lease.Acquire(dir, mine, obs, lease.Options{}); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("first sight of a foreign lease: %v, want ErrHeld", err)
	}
	l, err := acquireWithin(dir, mine, obs, 10*time.Second, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("dead holder with a clock a day fast not taken over: %v", err)
	}
	l.Release()
}

// A lease file that does not parse is watched like any other.
func TestUnreadableLeaseIsWatched(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, lease.FileName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	obs := lease.NewObserver(200 * time.Millisecond)
	mine := me(t, filepath.Join(t.TempDir(), "state.db"))
	if _, err := lease.Acquire(dir, mine, obs, lease.Options{}); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("unreadable lease: %v, want ErrHeld at first sight", err)
	}
	if _, err := acquireWithin(dir, mine, obs, 10*time.Second, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestSimultaneousStartsOneWins(t *testing.T) {
	for range 5 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 2 {
			h := me(t, filepath.Join(t.TempDir(), "state.db"))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := lease.Acquire(dir, h, lease.NewObserver(time.Minute), lease.Options{Confirm: 100 * time.Millisecond}); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d daemons won the lease", won)
		}
	}
}

func TestRenewDetectsTakeover(t *testing.T) {
	dir := t.TempDir()
	l, err := lease.Acquire(dir, me(t, filepath.Join(t.TempDir(), "s.db")), lease.NewObserver(time.Minute), lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, lease.Holder{ID: "thief", Instance: "other", Host: "other", Renewed: time.Now()})
	if err := l.Renew(); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("renew after takeover: %v", err)
	}
}

// A renewal racing with shutdown must not bring a released lease back: the
// next ppsync would find a lease of a process that is gone.
func TestRenewAfterReleaseDoesNotRecreateTheLease(t *testing.T) {
	dir := t.TempDir()
	l, err := lease.Acquire(dir, me(t, filepath.Join(t.TempDir(), "s.db")), lease.NewObserver(time.Minute), lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if err := l.Renew(); !errors.Is(err, lease.ErrReleased) {
		t.Errorf("Renew after Release: %v, want ErrReleased", err)
	}
	if _, err := os.Stat(filepath.Join(dir, lease.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lease file after Release and Renew: %v, want it gone", err)
	}
	l.Release() // a second Release is harmless
}

// Renew and Release from two goroutines (the renewal loop and shutdown)
// always end with no lease file.
func TestConcurrentRenewAndReleaseEndsReleased(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		l, err := lease.Acquire(dir, me(t, filepath.Join(t.TempDir(), "s.db")), lease.NewObserver(time.Minute), lease.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 5 {
				_ = l.Renew()
			}
		}()
		go func() { defer wg.Done(); l.Release() }()
		wg.Wait()
		if _, err := os.Stat(filepath.Join(dir, lease.FileName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("lease file left after Release: %v", err)
		}
	}
}
