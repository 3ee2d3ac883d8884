package daemon_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
)

// mountShare mounts a small tmpfs at store and binds it onto mnt, standing
// in for a network share: unmounting mnt leaves an empty mount point while
// the share (store) keeps its files. It skips the test where mounting is
// impossible.
func mountShare(t *testing.T, store, mnt string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting needs root (CI runs as root); the unmounted-share test did not run")
	}
	for _, d := range []string{store, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("tmpfs", store, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs here (%v); the unmounted-share test did not run", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(store, syscall.MNT_DETACH) })
	bind(t, store, mnt)
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
}

// shareEnv is a test environment whose second inbox (secondInbox) is a
// share: store mounted at inbox2 (mountShare).
func shareEnv(t *testing.T, o emulator.Options) (e *env, store, mnt string) {
	t.Helper()
	e = newEnv(t, o)
	store, mnt = filepath.Join(e.root, "store"), filepath.Join(e.root, "inbox2")
	mountShare(t, store, mnt)
	return e, store, mnt
}

func bind(t *testing.T, store, mnt string) {
	t.Helper()
	if err := syscall.Mount(store, mnt, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s on %s: %v", store, mnt, err)
	}
}

func unmount(t *testing.T, mnt string) {
	t.Helper()
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for {
		err := syscall.Unmount(mnt, 0)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unmount %s: %v", mnt, err)
		}
		time.Sleep(20 * time.Millisecond) // EBUSY while a file in it is open
	}
}

// A share unmounted under a running daemon is unreachable, not empty: its
// in-flight file is not marked deleted, nothing (no lease, no result) is
// written into the bare mount point, and when the share is mounted again
// the lease is taken back and the work resumes.
func TestUnmountedShareIsUnreachableNotEmpty(t *testing.T) {
	e, store, mnt := shareEnv(t, emulator.Options{ProcessingTime: 1500 * time.Millisecond})
	cfg := e.config(secondInbox)
	cfg.Admin.Listen = freePort(t)
	stop := e.start(cfg)
	// e.start stops the daemon at the end of a test that fails early,
	// before the share is unmounted.
	e.waitFor("the lease in the share", 10*time.Second, func() bool { return exists(filepath.Join(mnt, lease.FileName)) })

	inflight := filepath.Join(mnt, "inflight.pdf")
	write(t, inflight, pdf(t, 1, 1))
	e.waitFor("the file to be submitted", 20*time.Second, func() bool { return e.emu.Stats().DocumentsCreated == 1 })
	unmount(t, mnt)

	e.waitFor("/healthz to name the unmounted share", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, mnt) && strings.Contains(body, "mount")
	})
	e.waitFor("the finished document to meet the unmounted share", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "the result is written when it returns")
	})
	e.waitFor("a lease renewal during the outage", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "inbox lease not renewed")
	})
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Errorf("written into the bare mount point: %v", entries)
	}
	if strings.Contains(e.logs.String(), "file deleted") {
		t.Error("the in-flight file was taken for deleted")
	}
	// A file dropped on the share meanwhile, by another machine.
	later := filepath.Join(store, "later.pdf")
	write(t, later, pdf(t, 2, 1))

	bind(t, store, mnt)
	e.waitFor("the in-flight file's result after the remount", 30*time.Second, func() bool { return exists(results.ResultPath(inflight)) })
	e.waitFor("the later file's result", 20*time.Second, func() bool { return exists(results.ResultPath(filepath.Join(mnt, "later.pdf"))) })
	e.waitFor("the lease taken back", 20*time.Second, func() bool { return exists(filepath.Join(mnt, lease.FileName)) })
	e.waitFor("/healthz ok again", 10*time.Second, func() bool {
		code, _ := healthz(t, cfg.Admin.Listen)
		return code == http.StatusOK
	})
	if strings.Contains(e.logs.String(), "files appeared without a change event") {
		t.Error("the network-share warning was logged for a share that came back")
	}
	sum := stop()
	if sum.Done != 2 || sum.Gone != 0 || !sum.OK() {
		t.Errorf("summary %+v: want 2 done, nothing deleted", sum)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 2 {
		t.Errorf("documents_created = %d, want 2", st.DocumentsCreated)
	}
}

// An inbox whose filesystem turns read-only: its lease cannot be renewed,
// /healthz names it, the other inbox goes on, and it heals when writable.
func TestReadOnlyInboxIsLocalAndHeals(t *testing.T) {
	e, _, mnt := shareEnv(t, emulator.Options{})
	cfg := e.config(secondInbox)
	cfg.Admin.Listen = freePort(t)
	stop := e.start(cfg)
	// e.start stops the daemon at the end of a test that fails early,
	// before the share is unmounted.
	e.waitFor("the lease in the share", 10*time.Second, func() bool { return exists(filepath.Join(mnt, lease.FileName)) })
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("SKIPPED: cannot remount read-only here (%v)", err)
	}
	e.waitFor("the lease renewal to fail", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "inbox lease not renewed")
	})
	e.waitFor("/healthz to name the read-only inbox", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, mnt) && strings.Contains(body, "read-only")
	})
	other := filepath.Join(e.inbox, "other.pdf")
	write(t, other, pdf(t, 1, 1))
	e.waitFor("a result in the writable inbox", 20*time.Second, func() bool { return exists(results.ResultPath(other)) })

	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	e.waitFor("/healthz ok again", 30*time.Second, func() bool {
		code, _ := healthz(t, cfg.Admin.Listen)
		return code == http.StatusOK
	})
	back := filepath.Join(mnt, "back.pdf")
	write(t, back, pdf(t, 2, 1))
	e.waitFor("a result in the inbox made writable again", 20*time.Second, func() bool { return exists(results.ResultPath(back)) })
	sum := stop()
	if sum.Done != 2 || !sum.OK() {
		t.Errorf("summary %+v, want 2 done", sum)
	}
}

// A service that starts before its share is mounted: the empty mount point
// of an inbox the state knows files in is unreachable, not empty. Nothing
// is written into it (a FUSE remount would fail on a lease file there),
// nothing is marked deleted, and it is taken up when the share is mounted.
func TestShareNotMountedAtStart(t *testing.T) {
	e, store, mnt := shareEnv(t, emulator.Options{})
	cfg := e.config(secondInbox)
	first := filepath.Join(mnt, "first.pdf")
	write(t, first, pdf(t, 1, 1))
	if sum, err := e.once(cfg); err != nil || sum.Done != 1 {
		t.Fatalf("first run: %+v, %v", sum, err)
	}
	unmount(t, mnt)

	cfg.Admin.Listen = freePort(t)
	stop := e.start(cfg)
	// e.start stops the daemon at the end of a test that fails early,
	// before the share is unmounted.
	e.waitFor("/healthz to name the unmounted share", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, mnt) && strings.Contains(body, "vanished")
	})
	other := filepath.Join(e.inbox, "other.pdf")
	write(t, other, pdf(t, 2, 1))
	e.waitFor("a result in the other inbox", 20*time.Second, func() bool { return exists(results.ResultPath(other)) })
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Fatalf("written into the bare mount point: %v", entries)
	}

	bind(t, store, mnt)
	later := filepath.Join(mnt, "later.pdf")
	write(t, later, pdf(t, 3, 1))
	e.waitFor("a result in the share once mounted", 20*time.Second, func() bool { return exists(results.ResultPath(later)) })
	e.waitFor("the lease in the share", 20*time.Second, func() bool { return exists(filepath.Join(mnt, lease.FileName)) })
	sum := stop()
	if sum.Done != 3 || sum.Gone != 0 || !sum.OK() {
		t.Errorf("summary %+v: want 3 done, nothing deleted", sum)
	}
}
