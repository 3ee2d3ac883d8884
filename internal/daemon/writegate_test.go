//go:build linux

package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
)

// readOnly makes dir read-only for this process: a read-only bind mount of
// it on itself as root (root writes through any mode), mode 0555
// otherwise. The returned function makes it writable again.
func readOnly(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		restore = func() { _ = os.Chmod(dir, 0o755) }
		t.Cleanup(restore)
		return restore
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("SKIPPED: running as root, and cannot bind-mount %s read-only here (%v): the read-only folder test did not run", dir, err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Skipf("SKIPPED: cannot remount %s read-only here (%v): the read-only folder test did not run", dir, err)
	}
	done := false
	restore = func() {
		if !done {
			done = true
			unmount(t, dir)
		}
	}
	t.Cleanup(restore)
	return restore
}

// A folder the results cannot be written to holds the inbox's files back:
// nothing is sent or charged, the inbox is reported unhealthy once (not at
// every file or retry), and once the folder can be written the files go
// on by themselves.
func TestUnwritableResultsFolderHoldsFilesUncharged(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("results_dir = \"results\"")
	cfg.Admin.Listen = freePort(t)
	results := filepath.Join(e.root, "results")
	if err := os.Mkdir(results, 0o755); err != nil {
		t.Fatal(err)
	}
	restore := readOnly(t, results)
	stop := e.start(cfg)
	defer stop()
	var files []string
	for i := range 3 {
		f := filepath.Join(e.inbox, "scan"+string(rune('a'+i))+".pdf")
		write(t, f, pdf(t, i+1, 2))
		files = append(files, f)
	}
	const held = "inbox cannot take its results"
	e.waitFor("the inbox reported unwritable", 20*time.Second, func() bool {
		rep := status(t, cfg)
		return len(rep.Inboxes) == 1 && rep.Inboxes[0].Healthy != nil && !*rep.Inboxes[0].Healthy &&
			strings.Contains(rep.Inboxes[0].Error, results) && strings.Contains(e.logs.String(), held)
	})
	e.waitFor("every file past settling", 20*time.Second, func() bool {
		rep := status(t, cfg)
		return rep.Inboxes[0].Settling == 0
	})
	if s := e.emu.Stats(); s.ExtractionsCreated != 0 || s.PagesCharged != 0 {
		t.Fatalf("files of an inbox whose results cannot be written were sent: %d extractions, %d pages charged", s.ExtractionsCreated, s.PagesCharged)
	}

	restore()
	e.waitFor("every result once the folder can be written", 30*time.Second, func() bool {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(results, filepath.Base(f)+".json")); err != nil {
				return false
			}
		}
		return true
	})
	e.waitFor("the inbox healthy again", 10*time.Second, func() bool {
		rep := status(t, cfg)
		return *rep.Inboxes[0].Healthy
	})
	logs := e.logs.String()
	if n := strings.Count(logs, held); n != 1 {
		t.Errorf("the unwritable inbox was logged %d times, want once", n)
	}
	if n := strings.Count(logs, "inbox takes its results again"); n != 1 {
		t.Errorf("the healed inbox was logged %d times, want once", n)
	}
	if s := e.emu.Stats(); s.PagesCharged != 6 {
		t.Errorf("%d pages charged, want 6 (each file once)", s.PagesCharged)
	}
}

// An inbox that turns read-only while the daemon runs (its lease was
// taken before): its files wait uncharged, and go on once it is writable.
// As root the inbox is a read-only bind of a folder the test writes in;
// otherwise the inbox is made 0555 and the files are dropped into a
// folder of it that stays writable (the inbox is recursive).
func TestReadOnlyInboxHoldsFilesUncharged(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("recursive = true")
	cfg.Admin.Listen = freePort(t)
	root := os.Geteuid() == 0
	drop, seen := filepath.Join(e.inbox, "sub"), filepath.Join(e.inbox, "sub")
	if root {
		drop, seen = filepath.Join(e.root, "share"), e.inbox
		if err := os.Mkdir(drop, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount(drop, e.inbox, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("SKIPPED: running as root, and cannot bind-mount here (%v): the read-only inbox test did not run", err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(e.inbox, syscall.MNT_DETACH) })
	} else if err := os.Mkdir(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	stop := e.start(cfg)
	defer stop()
	e.waitFor("the inbox's lease", 10*time.Second, func() bool { return exists(filepath.Join(e.inbox, ".ppsync-lease.json")) })
	var restore func()
	if root {
		if err := syscall.Mount("", e.inbox, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("SKIPPED: cannot remount the inbox read-only here (%v)", err)
		}
		restore = func() {
			if err := syscall.Mount("", e.inbox, "", syscall.MS_BIND|syscall.MS_REMOUNT, ""); err != nil {
				t.Fatalf("remount the inbox writable: %v", err)
			}
		}
	} else {
		if err := os.Chmod(e.inbox, 0o555); err != nil {
			t.Fatal(err)
		}
		restore = func() { _ = os.Chmod(e.inbox, 0o755) }
		t.Cleanup(restore)
	}
	// Dropped only once the inbox is read-only.
	var files []string
	for i := range 2 {
		name := "ro" + string(rune('a'+i)) + ".pdf"
		write(t, filepath.Join(drop, name), pdf(t, i+1, 1))
		files = append(files, filepath.Join(seen, name))
	}
	const held = "inbox cannot take its results"
	e.waitFor("the inbox reported unwritable", 20*time.Second, func() bool {
		rep := status(t, cfg)
		return !*rep.Inboxes[0].Healthy && strings.Contains(e.logs.String(), held) && rep.Inboxes[0].Settling == 0
	})
	if s := e.emu.Stats(); s.ExtractionsCreated != 0 || s.PagesCharged != 0 {
		t.Fatalf("files of a read-only inbox were sent: %d extractions, %d pages charged", s.ExtractionsCreated, s.PagesCharged)
	}
	restore()
	e.waitFor("every result once the inbox is writable", 30*time.Second, func() bool {
		for _, f := range files {
			if !exists(f + ".json") {
				return false
			}
		}
		return true
	})
	if n := strings.Count(e.logs.String(), held); n != 1 {
		t.Errorf("the read-only inbox was logged %d times, want once", n)
	}
	if s := e.emu.Stats(); s.PagesCharged != 2 {
		t.Errorf("%d pages charged, want 2", s.PagesCharged)
	}
}
