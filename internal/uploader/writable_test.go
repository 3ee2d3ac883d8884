//go:build linux || darwin

package uploader

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/watcher"
)

// A file of an inbox whose results folder cannot take a file is held, the
// inbox is reported once, and the first probe that succeeds again sends the
// held files back through the watcher.
func TestWriteGateHoldsAndHeals(t *testing.T) {
	dir := t.TempDir()
	inbox, results := filepath.Join(dir, "in"), filepath.Join(dir, "results")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	// A file where the folder should be: no one, root included, can write in it.
	if err := os.WriteFile(results, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	fin := &forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}}
	u := New(Options{Inboxes: []Inbox{{Path: inbox, ParserID: "prs", Targets: []string{results}}}, Finisher: fin,
		ProbeRetry: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ev := func(name string) watcher.Event {
		return watcher.Event{Inbox: 0, Kind: watcher.Ready, Path: filepath.Join(inbox, name)}
	}
	for _, name := range []string{"a.pdf", "b.pdf"} {
		time.Sleep(2 * time.Millisecond) // past ProbeRetry: each is probed again
		if u.admitWrite(ev(name)) {
			t.Fatalf("%s admitted while its results folder cannot be written", name)
		}
	}
	if err := u.InboxFault(0); err == nil || !strings.Contains(err.Error(), results) {
		t.Errorf("inbox fault %v, want one naming %s", err, results)
	}
	if n := strings.Count(logs.String(), "inbox cannot take its results"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if len(fin.forgot) != 0 {
		t.Errorf("files sent back before the folder healed: %v", fin.forgot)
	}

	if err := os.Remove(results); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(results, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if !u.admitWrite(ev("c.pdf")) {
		t.Fatal("a file refused once its results folder can be written")
	}
	if u.InboxFault(0) != nil || strings.Count(logs.String(), "inbox takes its results again") != 1 {
		t.Errorf("fault %v after healing; log:\n%s", u.InboxFault(0), logs.String())
	}
	slices.Sort(fin.forgot)
	if want := []string{filepath.Join(inbox, "a.pdf"), filepath.Join(inbox, "b.pdf")}; !slices.Equal(fin.forgot, want) {
		t.Errorf("sent back %v, want %v", fin.forgot, want)
	}
	if entries, _ := os.ReadDir(results); len(entries) != 0 {
		t.Errorf("the probe left %d files behind", len(entries))
	}
}

// A probe file the share still reports busy is removed again: the folder
// takes files, and the probe does not leave it behind. A folder whose
// probe file stays busy is reported, with the busy answer.
func TestProbeRemovesABusyFileAgain(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	busyTwice := func(name string) error {
		if calls++; calls <= 2 {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
		}
		return os.Remove(name)
	}
	if err := probeDirWith(dir, busyTwice); err != nil {
		t.Fatalf("probe with a file busy twice: %v", err)
	}
	if calls != 3 {
		t.Errorf("%d removals, want 3", calls)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ppsync-probe-*")); len(left) != 0 {
		t.Errorf("probe files left behind: %v", left)
	}
	calls = 0
	alwaysBusy := func(name string) error {
		calls++
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	if err := probeDirWith(dir, alwaysBusy); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("probe with a file always busy: %v, want EBUSY", err)
	}
	if calls != probeBusyTries {
		t.Errorf("%d removals of a file always busy, want %d", calls, probeBusyTries)
	}
}

// The heal loop probes again every ProbeRetry only while an inbox cannot
// be written: it does not tick before, nor once the inbox healed.
func TestHealLoopTicksOnlyWhileAnInboxCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	inbox, results := filepath.Join(dir, "in"), filepath.Join(dir, "results")
	for _, d := range []string{inbox, results} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fin := &forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}}
	const retry = 10 * time.Millisecond
	u := New(Options{Inboxes: []Inbox{{Path: inbox, ParserID: "prs", Targets: []string{results}}}, Finisher: fin, ProbeRetry: retry})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.healLoop(ctx) }()
	defer func() { cancel(); <-done }()
	quiet := func(what string) {
		t.Helper()
		before := u.healTicks.Load()
		time.Sleep(20 * retry)
		if n := u.healTicks.Load() - before; n > 1 {
			t.Errorf("%s: the heal loop ticked %d times in %s", what, n, 20*retry)
		}
	}
	quiet("every inbox writable")

	// A file where the folder should be: no one, root included, can write in it.
	if err := os.Remove(results); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u.admitWrite(watcher.Event{Inbox: 0, Kind: watcher.Ready, Path: filepath.Join(inbox, "a.pdf")}) {
		t.Fatal("a.pdf admitted while its results folder cannot be written")
	}
	for deadline := time.Now().Add(10 * time.Second); u.healTicks.Load() < 3; time.Sleep(retry) {
		if time.Now().After(deadline) {
			t.Fatalf("the heal loop ticked %d times in 10 s while the inbox could not be written", u.healTicks.Load())
		}
	}
	if err := os.Remove(results); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(results, 0o755); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); u.InboxFault(0) != nil; time.Sleep(retry) {
		if time.Now().After(deadline) {
			t.Fatal("the inbox was not probed again once its folder could be written")
		}
	}
	fin.mu.Lock()
	forgot := slices.Clone(fin.forgot)
	fin.mu.Unlock()
	if !slices.Contains(forgot, filepath.Join(inbox, "a.pdf")) {
		t.Errorf("a.pdf not sent back once the inbox healed: %v", forgot)
	}
	quiet("after the inbox healed")
}
