package lease_test

import (
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

func TestAcquireRefusesALiveHolderAndNamesIt(t *testing.T) {
	dir := t.TempDir()
	a := lease.Me("/var/lib/a/state.db")
	la, err := lease.Acquire(dir, a, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Another state file on the same host, while a's process (this one) lives.
	b := lease.Me("/var/lib/b/state.db")
	_, err = lease.Acquire(dir, b, time.Minute, 0)
	if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), a.Host) || !strings.Contains(err.Error(), "/var/lib/a/state.db") {
		t.Fatalf("err = %v", err)
	}
	// Another machine sharing the folder.
	la.Release()
	other := lease.Holder{ID: "x1", Host: "scanner-pc-2", PID: 4242, State: `C:\ProgramData\ppsync\state.db`, Started: time.Now(), Renewed: time.Now()}
	write(t, dir, other)
	_, err = lease.Acquire(dir, b, time.Minute, 0)
	if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "scanner-pc-2") {
		t.Fatalf("foreign holder: %v", err)
	}
	// Stale: not renewed within the TTL.
	other.Renewed = time.Now().Add(-2 * time.Minute)
	write(t, dir, other)
	if _, err := lease.Acquire(dir, b, time.Minute, 0); err != nil {
		t.Fatalf("stale lease not taken over: %v", err)
	}
}

func TestOwnLeftoverIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	me := lease.Me("/var/lib/ppsync/state.db")
	dead := me
	dead.ID, dead.PID = "previous-run", 999999 // killed: same host, same state file
	write(t, dir, dead)
	l, err := lease.Acquire(dir, me, time.Minute, 0)
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

func TestSimultaneousStartsOneWins(t *testing.T) {
	for range 5 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := lease.Me(filepath.Join("/state", string(rune('a'+i))))
				h.Host = "host-" + string(rune('a'+i)) // two machines
				if _, err := lease.Acquire(dir, h, time.Minute, 100*time.Millisecond); err == nil {
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
	l, err := lease.Acquire(dir, lease.Me("/s"), time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, lease.Holder{ID: "thief", Host: "other", Renewed: time.Now()})
	if err := l.Renew(); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("renew after takeover: %v", err)
	}
}

// A renewal racing with shutdown must not bring a released lease back: the
// next ppsync would find a lease of a process that is gone.
func TestRenewAfterReleaseDoesNotRecreateTheLease(t *testing.T) {
	dir := t.TempDir()
	l, err := lease.Acquire(dir, lease.Me("/s.db"), time.Minute, 0)
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
		l, err := lease.Acquire(dir, lease.Me("/s.db"), time.Minute, 0)
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
