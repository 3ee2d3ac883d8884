package uploader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ppsync/ppsync/internal/watcher"
)

// Before a file of an inbox is taken in (hashed, queued, and so sent and
// charged), the folders its results go to must take a new file: a probe
// creates and removes a temp file there. A good answer is trusted for
// probeTTL; a failed one is asked again every ProbeRetry. While an
// inbox's folders cannot be written, its files are held here (nothing is
// sent or charged for them), the inbox is reported (InboxFault, logged
// once), and when a probe succeeds again the held files are reported
// again by the watcher and go on.
const probeTTL = 10 * time.Second

// DefaultProbeRetry is how often a folder that could not be written is
// probed again.
const DefaultProbeRetry = 2 * time.Second

// writeGate is the state of the probes, per inbox.
type writeGate struct {
	mu     sync.Mutex
	inbox  []gateInbox
	faults chan struct{} // signalled when an inbox turns unwritable
}

type gateInbox struct {
	probed time.Time // last probe
	fault  error     // its failure, nil when writable
	held   map[string]bool
}

func newWriteGate(n int) *writeGate {
	g := &writeGate{inbox: make([]gateInbox, n), faults: make(chan struct{}, 1)}
	for i := range g.inbox {
		g.inbox[i].held = map[string]bool{}
	}
	return g
}

// targets are the folders inbox in's results are written to.
func targets(in Inbox) []string {
	if len(in.Targets) > 0 {
		return in.Targets
	}
	return []string{in.Path}
}

// probeDir creates and removes a temp file in dir.
func probeDir(dir string) error { return probeDirWith(dir, os.Remove) }

// probeBusyTries is how many times a probe file that a share reports busy
// (EBUSY: an SMB client still closing it) is removed before the busy
// answer stands; the waits between tries double from 10 ms (310 ms in all).
const probeBusyTries = 6

// probeDirWith is probeDir with remove (os.Remove) as the removal: a
// removal answered "busy" is tried again, since a share closes a file
// after the call that closed it returned.
func probeDirWith(dir string, remove func(string) error) error {
	f, err := os.CreateTemp(dir, ".ppsync-probe-*.tmp")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	rerr := remove(name)
	for i, wait := 1, 10*time.Millisecond; errors.Is(rerr, syscall.EBUSY) && i < probeBusyTries; i, wait = i+1, wait*2 {
		time.Sleep(wait)
		rerr = remove(name)
	}
	if err == nil {
		err = rerr
	}
	return err
}

// probe tries every target folder of inbox i. A folder not made yet is
// probed where it will be made: in the nearest folder above it.
func (u *Uploader) probe(i int) error {
	for _, dir := range targets(u.o.Inboxes[i]) {
		err := probeDir(dir)
		if errors.Is(err, os.ErrNotExist) && dir == u.o.Inboxes[i].Path {
			continue // an inbox away is the watcher's to report
		}
		for at := dir; errors.Is(err, os.ErrNotExist) && filepath.Dir(at) != at; {
			at = filepath.Dir(at)
			err = probeDir(at)
		}
		if err != nil {
			return fmt.Errorf("results of inbox %s cannot be written in %s (%w): its files wait, nothing is sent or charged; "+
				"give the ppsync user write access to that folder (for the systemd unit, also a ReadWritePaths= line)", u.o.Inboxes[i].Path, dir, err)
		}
	}
	return nil
}

// admitWrite tells whether a ready file of inbox i may be taken in; when it
// may not, the file is held until the inbox's folders can be written.
func (u *Uploader) admitWrite(ev watcher.Event) bool {
	g := u.gate
	g.mu.Lock()
	in := &g.inbox[ev.Inbox]
	if in.fault == nil && !in.probed.IsZero() && time.Since(in.probed) < probeTTL {
		g.mu.Unlock()
		return true
	}
	if in.fault != nil && time.Since(in.probed) < u.o.ProbeRetry {
		in.held[ev.Path] = true
		g.mu.Unlock()
		return false
	}
	g.mu.Unlock()
	err := u.probe(ev.Inbox)
	u.probed(ev.Inbox, err, ev.Path)
	return err == nil
}

// probed records the outcome of a probe of inbox i; hold, when the probe
// failed, is held. The change from writable to not, and back, is logged
// once, and a healed inbox's held files are reported again.
func (u *Uploader) probed(i int, err error, hold string) {
	g := u.gate
	g.mu.Lock()
	in := &g.inbox[i]
	was := in.fault
	in.probed, in.fault = time.Now(), err
	var healed map[string]bool
	switch {
	case err != nil && hold != "":
		in.held[hold] = true
	case err == nil && was != nil:
		healed, in.held = in.held, map[string]bool{}
	}
	g.mu.Unlock()
	path := u.o.Inboxes[i].Path
	switch {
	case err != nil && was == nil:
		u.log.Error("inbox cannot take its results; its files wait until it can", "inbox", path, "error", err)
		select {
		case g.faults <- struct{}{}:
		default:
		}
	case err == nil && was != nil:
		u.log.Info("inbox takes its results again; its waiting files go on", "inbox", path, "files", len(healed))
		for p := range healed {
			u.o.Finisher.Forget(p)
		}
	}
}

// release forgets a held file (deleted).
func (u *Uploader) release(ev watcher.Event) {
	u.gate.mu.Lock()
	defer u.gate.mu.Unlock()
	delete(u.gate.inbox[ev.Inbox].held, ev.Path)
}

// InboxFault says why inbox i's files are held (its results cannot be
// written), or nil.
func (u *Uploader) InboxFault(i int) error {
	u.gate.mu.Lock()
	defer u.gate.mu.Unlock()
	if i < 0 || i >= len(u.gate.inbox) {
		return nil
	}
	return u.gate.inbox[i].fault
}

// healLoop probes the inboxes that could not be written every ProbeRetry,
// and sends their held files on once they can, until ctx ends.
func (u *Uploader) healLoop(ctx context.Context) {
	t := time.NewTicker(u.o.ProbeRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.gate.faults:
		case <-t.C:
		}
		for i := range u.gate.inbox {
			if u.InboxFault(i) != nil {
				u.probed(i, u.probe(i), "")
			}
		}
	}
}
