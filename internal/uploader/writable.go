package uploader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
// once), and when a probe succeeds again the held files go on: the
// daemon's watcher reports them again (Finisher.Forget: it looks at the
// file as it is then); in --once, whose watcher has finished, the gate
// takes the events it kept in again itself.
//
// In --once, held files keep the run going (Idle) while the gate probes
// again; once the watcher has finished, onceHoldProbes failed probes in a
// row give the inbox up: the run may end without its files, and says so
// (Leftover). They are left as they are, with no record: the next run
// takes them.
const probeTTL = 10 * time.Second

// DefaultProbeRetry is how often a folder that could not be written is
// probed again.
const DefaultProbeRetry = 2 * time.Second

// onceHoldProbes is how many probes in a row, every ProbeRetry after the
// watcher of a --once run has finished, an inbox's folders may fail before
// the run stops waiting for its held files: about 10 s with the default
// ProbeRetry. A passing fault is over by then (a share answering "busy"
// heals in milliseconds, a reconnect in a second or two); one that lasts
// is a read-only mount or a missing permission, which no wait mends, and a
// --once run from a timer must end. The files are not lost: the next run
// takes them.
const onceHoldProbes = 5

// writeGate is the state of the probes, per inbox.
type writeGate struct {
	mu     sync.Mutex
	inbox  []gateInbox
	faults chan struct{} // signalled when an inbox turns unwritable
	seq    uint64        // orders held files as their events came
	// again are the held events of healed inboxes that intake takes in
	// again (--once), in the order they came; retry is signalled when
	// some are added.
	again []watcher.Event
	retry chan struct{}
	// ended is set when a --once run ends (Leftover): held files stay
	// held, to be reported, even if their inbox heals.
	ended bool
}

type gateInbox struct {
	probed time.Time // last probe
	fault  error     // its failure, nil when writable
	held   map[string]heldEvent
	// tries counts the failed probes since the intake closed (--once);
	// gaveUp is set once they reach onceHoldProbes.
	tries  int
	gaveUp bool
}

// heldEvent is the Ready event of a held file, kept to be taken in again.
type heldEvent struct {
	ev  watcher.Event
	seq uint64
}

func newWriteGate(n int) *writeGate {
	g := &writeGate{inbox: make([]gateInbox, n), faults: make(chan struct{}, 1), retry: make(chan struct{}, 1)}
	for i := range g.inbox {
		g.inbox[i].held = map[string]heldEvent{}
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
		g.hold(in, ev)
		g.mu.Unlock()
		return false
	}
	g.mu.Unlock()
	err := u.probe(ev.Inbox)
	u.probed(ev.Inbox, err, &ev)
	return err == nil
}

// hold keeps ev held in in (g.mu held).
func (g *writeGate) hold(in *gateInbox, ev watcher.Event) {
	g.seq++
	in.held[ev.Path] = heldEvent{ev: ev, seq: g.seq}
}

// probed records the outcome of a probe of inbox i; hold, when the probe
// failed, is held. The change from writable to not, and back, is logged
// once, and a healed inbox's held files go on: in --once the gate takes
// them in again itself, else the watcher reports them again.
func (u *Uploader) probed(i int, err error, hold *watcher.Event) {
	g := u.gate
	g.mu.Lock()
	in := &g.inbox[i]
	was := in.fault
	in.probed, in.fault = time.Now(), err
	var healed []heldEvent
	switch {
	case err != nil && hold != nil:
		g.hold(in, *hold)
	case err == nil && was != nil && !g.ended:
		for _, h := range in.held {
			healed = append(healed, h)
		}
		slices.SortFunc(healed, func(a, b heldEvent) int { return cmp.Compare(a.seq, b.seq) })
		in.held, in.tries, in.gaveUp = map[string]heldEvent{}, 0, false
		if u.o.Once {
			// Moved under the lock: Idle sees them in one place or the other.
			for _, h := range healed {
				g.again = append(g.again, h.ev)
			}
		}
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
		if u.o.Once {
			// The watcher of a --once run may have finished: it would
			// report nothing again.
			select {
			case g.retry <- struct{}{}:
			default:
			}
			u.wake()
			return
		}
		for _, h := range healed {
			u.o.Finisher.Forget(h.ev.Path)
		}
	}
}

// takeAgain returns the held events of healed inboxes for intake to take
// in again, counted busy from now (Idle reads both under g.mu).
func (u *Uploader) takeAgain() []watcher.Event {
	g := u.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	evs := g.again
	g.again = nil
	u.intakeBusy.Add(int64(len(evs)))
	return evs
}

// stillHeld counts a failed probe of inbox i, in --once once the watcher
// has finished: at onceHoldProbes in a row the run stops waiting for the
// inbox's held files (Idle, Leftover).
func (u *Uploader) stillHeld(i int) {
	if !u.o.Once || !u.intakeDone.Load() {
		return
	}
	g := u.gate
	g.mu.Lock()
	in := &g.inbox[i]
	gaveUp := false
	if in.fault != nil && len(in.held) > 0 && !in.gaveUp {
		in.tries++
		gaveUp = in.tries >= onceHoldProbes
		in.gaveUp = gaveUp
	}
	g.mu.Unlock()
	if gaveUp {
		u.wake()
	}
}

// gateWork counts the files the gate holds: waiting are those the run
// waits for (held by an inbox not given up on, or to be taken in again),
// left those of inboxes given up on (--once). busy is whether intake has
// events in hand, read under the same lock: a file goes from the gate to
// intake (takeAgain) and from intake to the gate (admitWrite, before its
// event is done) so that one of the two always counts it.
func (u *Uploader) gateWork() (waiting, left int, busy bool) {
	g := u.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	waiting = len(g.again)
	for i := range g.inbox {
		if g.inbox[i].gaveUp {
			left += len(g.inbox[i].held)
		} else {
			waiting += len(g.inbox[i].held)
		}
	}
	return waiting, left, u.intakeBusy.Load() > 0
}

// HeldInbox is an inbox whose files a --once run ends without: its results
// could not be written (Err) when the run stopped waiting for them.
type HeldInbox struct {
	Inbox string
	Files int
	Err   error
}

// heldInboxes lists the inboxes holding files.
func (u *Uploader) heldInboxes() []HeldInbox {
	g := u.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []HeldInbox
	for i := range g.inbox {
		if n := len(g.inbox[i].held); n > 0 {
			out = append(out, HeldInbox{Inbox: u.o.Inboxes[i].Path, Files: n, Err: g.inbox[i].fault})
		}
	}
	return out
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
	// The tick runs only while some inbox cannot be written: an inbox
	// turning unwritable signals faults, which starts it.
	t := time.NewTicker(u.o.ProbeRetry)
	t.Stop()
	defer t.Stop()
	ticking := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.gate.faults:
		case <-t.C:
			u.healTicks.Add(1)
		}
		faulty := false
		for i := range u.gate.inbox {
			if u.InboxFault(i) != nil {
				err := u.probe(i)
				u.probed(i, err, nil)
				if err != nil {
					u.stillHeld(i)
					faulty = true
				}
			}
		}
		switch {
		case faulty && !ticking:
			t.Reset(u.o.ProbeRetry)
			ticking = true
		case !faulty && ticking:
			t.Stop()
			ticking = false
		}
	}
}
