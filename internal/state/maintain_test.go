package state_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// TestMaintainerPrunesEveryIntervalAndKeepsAnUnmountedInbox runs the
// maintainer over a state with old finished records in a reachable inbox
// and in an inbox whose root is gone (an unmounted share): the first are
// pruned at once, the second kept, and the record check is reported done.
func TestMaintainerPrunesEveryIntervalAndKeepsAnUnmountedInbox(t *testing.T) {
	dir := t.TempDir()
	here, away := filepath.Join(dir, "here"), filepath.Join(dir, "away")
	if err := os.Mkdir(here, 0o700); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(dir, "state.db"))
	defer st.Close()
	old := time.Now().Add(-400 * 24 * time.Hour)
	gone, kept := filepath.Join(here, "a.pdf"), filepath.Join(away, "b.pdf")
	err := st.Update(func(tx *state.Tx) error {
		for _, f := range []state.File{
			{Path: gone, Inbox: here, ParserID: "prs", SHA256: "aa", State: state.FileGone, Updated: old},
			{Path: kept, Inbox: away, ParserID: "prs", SHA256: "bb", State: state.FileGone, Updated: old},
		} {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m := state.NewMaintainer(st, state.MaintainOptions{Roots: []string{here, away}, Retention: 24 * time.Hour, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Checked():
	case <-time.After(20 * time.Second):
		t.Fatal("the record check was never reported done")
	}
	has := func(p string) bool {
		var ok bool
		if err := st.View(func(tx *state.Tx) error { _, ok, err = tx.File(p); return err }); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	deadline := time.Now().Add(20 * time.Second)
	for has(gone) {
		if time.Now().After(deadline) {
			t.Fatal("the old record of a reachable inbox was not pruned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !has(kept) {
		t.Error("a record of an inbox whose root is gone was pruned")
	}
	stopMaintainer(t, cancel, done)
}

// When it stops, the maintainer logs how often the state's mapped pages
// were looked at and handed back.
func TestMaintainerLogsItsReleasesAsItStops(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "state.db"))
	defer st.Close()
	if err := st.Update(func(tx *state.Tx) error {
		return tx.SeedFile(state.File{Path: filepath.Join(dir, "a.pdf"), Inbox: dir, State: state.FileQueued})
	}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := state.NewMaintainer(st, state.MaintainOptions{Roots: []string{dir}, Retention: time.Hour, Every: time.Hour, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Checked()
	stopMaintainer(t, cancel, done)
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "mapped pages back") {
			line = l
		}
	}
	want := fmt.Sprintf("releases=%d looks=%d budget_bytes=%d", st.Releases(), st.ReleaseChecks(), 4<<20)
	if !strings.Contains(line, want) {
		t.Errorf("the maintainer's last line on the mapped pages is %q, want it to say %q", line, want)
	}
}

// stopMaintainer ends a maintainer's Run (cancel) and waits for it to
// return (done) without an error.
func stopMaintainer(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return once its context ended")
	}
}

// TestMaintainerLooksAfterUseAndSleepsWhileIdle: the maintainer looks at
// the mapped pages a moment after the state is used, and does not wake at
// all while it is not (an idle daemon costs nothing here).
func TestMaintainerLooksAfterUseAndSleepsWhileIdle(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "state.db"))
	defer st.Close()
	a := filepath.Join(dir, "a.pdf")
	if err := st.Update(func(tx *state.Tx) error {
		return tx.SeedFile(state.File{Path: a, Inbox: dir, State: state.FileQueued})
	}); err != nil {
		t.Fatal(err)
	}
	m := state.NewMaintainer(st, state.MaintainOptions{Roots: []string{dir}, Retention: time.Hour, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer stopMaintainer(t, cancel, done)
	<-m.Checked()
	// used: looked at within a deadline
	looked := func(what string, before uint64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); st.ReleaseChecks() == before; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the maintainer never looked at the mapped pages (%d wakes)", what, m.Wakes())
			}
		}
	}
	looked("after the start-up check and prune", 0)
	// Nothing touched since the last look (the prune may run after the
	// check): from here nothing is due.
	for deadline := time.Now().Add(10 * time.Second); state.Unchecked(st) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("records touched since the last look for 10 s (%d wakes)", m.Wakes())
		}
	}
	// idle: no wake over five of its former ticks
	idle := m.Wakes()
	time.Sleep(5 * 100 * time.Millisecond)
	if n := m.Wakes() - idle; n > 0 {
		t.Errorf("the maintainer woke %d times in 500 ms with the state unused", n)
	}
	// used again: looked at again
	before := st.ReleaseChecks()
	if err := st.View(func(tx *state.Tx) error { _, _, err := tx.File(a); return err }); err != nil {
		t.Fatal(err)
	}
	looked("after a read", before)
}
