package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/watcher"
)

// DefaultTTL is how long an inbox lease may stay unchanged, as another
// ppsync watches it, before its holder is taken for dead; a lease is
// renewed every third of it.
const DefaultTTL = 30 * time.Second

// leaseRetryMin is the first pause after an inbox's lease could not be
// renewed or taken; it doubles up to the renewal interval.
const leaseRetryMin = time.Second

// Keeper holds the lease of every inbox and keeps an inbox's files
// away from the uploader while its lease is not held. An inbox that cannot
// be reached, or whose lease file cannot be written (read-only, full), is
// a fault of that inbox alone: it is reported and retried, and its lease
// is taken back when it returns. An inbox another ppsync holds is stopped
// (its unsent files handed back) and retried in the same way: it never
// stops the daemon.
type Keeper struct {
	o        KeeperOptions
	holder   Holder
	obs      *Observer
	ttl      time.Duration
	watchers []*watcher.Watcher
	st       HandBacker
	log      *slog.Logger

	mu     sync.Mutex
	leases []*Lease // nil while not held
	faults []error  // why an inbox's lease is not held or renewed
	taken  []bool   // another ppsync holds the inbox (logged once)
	// parked are the files reported while the inbox's lease was not held,
	// and those handed back: reported again once it is.
	parked []map[string]bool
}

// HandBacker gives an inbox's unsent files back (state.Store.HandBack):
// their paths are returned, to be reported again once the lease is held.
type HandBacker interface {
	HandBack(inbox string) ([]string, error)
}

// KeeperOptions configures a Keeper.
type KeeperOptions struct {
	// StatePath is the state file whose instance id names this holder.
	StatePath string
	// TTL is how long another ppsync's lease may stay unchanged before its
	// holder is taken for dead (DefaultTTL when zero).
	TTL time.Duration
	// Watchers are the inboxes, by index.
	Watchers []*watcher.Watcher
	Store    HandBacker
	Log      *slog.Logger
	// Once: an inbox another ppsync holds at start-up is watched for one
	// lease period and is an error if its holder lives.
	Once bool
	// In are the watchers' events; those Keeper admits go on to Out, which
	// is closed when In is.
	In  <-chan watcher.Event
	Out chan<- watcher.Event
	// Healed is called when an inbox's lease is taken back after a fault.
	Healed func(inbox int)
}

// NewKeeper keeps the leases of o.Watchers' inboxes; it takes them in Recover.
func NewKeeper(o KeeperOptions) *Keeper {
	ttl := o.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	n := len(o.Watchers)
	k := &Keeper{o: o, obs: NewObserver(ttl), ttl: ttl, watchers: o.Watchers, st: o.Store, log: o.Log,
		leases: make([]*Lease, n), faults: make([]error, n), taken: make([]bool, n), parked: make([]map[string]bool, n)}
	for i := range k.parked {
		k.parked[i] = map[string]bool{}
	}
	return k
}

// Recover names this holder (the state's instance id, the machine) and
// takes the lease of every reachable inbox; see acquire.
func (k *Keeper) Recover(ctx context.Context) error {
	id, err := LoadIdentity(k.o.StatePath)
	if err != nil {
		return err
	}
	k.holder = Me(id, k.o.StatePath)
	return k.acquire(ctx, k.o.Once)
}

// Run passes the watchers' events on (forward) and keeps every inbox's
// lease until ctx ends, then gives up every lease held.
func (k *Keeper) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { k.forward(ctx, k.o.In, k.o.Out) })
	for i := range k.watchers {
		wg.Go(func() { k.run(ctx, i) })
	}
	wg.Wait()
	k.release()
	return nil
}

func (k *Keeper) take(dir string) (*Lease, error) {
	return Acquire(dir, k.holder, k.obs, Options{Confirm: 150 * time.Millisecond})
}

// acquire takes the lease of every reachable inbox at start-up. An inbox
// another ppsync holds is stopped and retried (run); with once, it is
// watched for one lease period and is an error if its holder lives.
func (k *Keeper) acquire(ctx context.Context, once bool) error {
	for i, w := range k.watchers {
		if err := w.Reachable(); err != nil {
			k.setFault(i, unreachable{err})
			continue
		}
		path := w.Status().Path
		l, err := k.take(path)
		if errors.Is(err, ErrHeld) && once {
			// Watch it for a lease period: a holder that died is taken over.
			deadline := time.Now().Add(k.ttl + k.ttl/5)
			for errors.Is(err, ErrHeld) && time.Now().Before(deadline) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(k.ttl / 10):
				}
				l, err = k.take(path)
			}
			if errors.Is(err, ErrHeld) {
				return err
			}
		}
		switch {
		case errors.Is(err, ErrHeld):
			k.lost(i, err)
		case err != nil:
			k.setFault(i, err)
			k.log.Error("cannot take the lease of an inbox; retrying (the other inboxes go on)", "inbox", path, "error", err)
		default:
			k.mu.Lock()
			k.leases[i] = l
			k.mu.Unlock()
		}
	}
	return nil
}

// Fault returns why inbox i's lease is not held and renewed, or nil.
func (k *Keeper) Fault(i int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.faults[i]
}

func (k *Keeper) setFault(i int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults[i] = err
}

// admit tells whether a watcher's event may go on to the uploader: a file
// of an inbox whose lease is not held is parked until it is. A deletion
// always goes on (it only forgets).
func (k *Keeper) admit(ev watcher.Event) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ev.Kind == watcher.Gone {
		delete(k.parked[ev.Inbox], ev.Path)
		return true
	}
	if k.leases[ev.Inbox] != nil {
		return true
	}
	k.parked[ev.Inbox][ev.Path] = true
	return false
}

// forward passes the watchers' events on to the uploader, as admit allows,
// until in is closed (then out is closed) or ctx ends.
func (k *Keeper) forward(ctx context.Context, in <-chan watcher.Event, out chan<- watcher.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-in:
			if !ok {
				close(out)
				return
			}
			if !k.admit(ev) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// lost stops inbox i, which another ppsync holds: its unsent files are
// handed back (the other one sends them), the inbox is reported, and it
// is logged once until the lease is held again.
func (k *Keeper) lost(i int, err error) {
	path := k.watchers[i].Status().Path
	k.mu.Lock()
	k.leases[i] = nil
	k.faults[i] = err
	first := !k.taken[i]
	k.taken[i] = true
	k.mu.Unlock()
	given, herr := k.st.HandBack(path)
	k.mu.Lock()
	for _, p := range given {
		k.parked[i][p] = true
	}
	k.mu.Unlock()
	switch {
	case herr != nil:
		k.log.Error("another ppsync holds an inbox, and its unsent files could not all be handed back; retrying",
			"inbox", path, "error", herr)
	case first:
		k.log.Error("inbox stopped: another ppsync holds its lease; its unsent files are left to that one, and the lease is taken back "+
			"if that ppsync stops renewing it (the other inboxes go on)", "inbox", path, "handed_back", len(given), "holder", err)
	case len(given) > 0:
		k.log.Info("handed back files queued while the inbox's lease was being lost", "inbox", path, "files", len(given))
	}
}

// gained opens inbox i again: the files parked meanwhile are reported
// again by its watcher.
func (k *Keeper) gained(i int) {
	k.mu.Lock()
	parked := k.parked[i]
	k.parked[i] = map[string]bool{}
	k.taken[i] = false
	k.mu.Unlock()
	for p := range parked {
		k.watchers[i].Forget(p)
	}
}

// run keeps inbox i's lease until ctx ends, taking it back after a fault
// or once another holder stops renewing it.
func (k *Keeper) run(ctx context.Context, i int) {
	w := k.watchers[i]
	path := w.Status().Path
	renew := k.ttl / 3
	wait := renew
	if k.Fault(i) != nil {
		wait = leaseRetryMin
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		was := k.Fault(i)
		err := k.keep(w, i)
		if errors.Is(err, ErrHeld) {
			k.lost(i, err)
			// Look often enough to see a dead holder soon after the lease period.
			t.Reset(max(k.ttl/10, 10*time.Millisecond))
			continue
		}
		k.setFault(i, err)
		switch {
		case err != nil:
			if was == nil || errors.Is(was, ErrHeld) {
				k.log.Log(ctx, quietIf(err, slog.LevelError), "inbox lease not renewed; the inbox is retried and its lease taken back when it can be written again (the other inboxes go on)",
					"inbox", path, "error", err)
			}
			wait = min(max(wait*2, leaseRetryMin), renew)
		default:
			if was != nil {
				k.log.Log(ctx, quietIf(was, slog.LevelInfo), "inbox lease taken back", "inbox", path)
				if k.o.Healed != nil {
					k.o.Healed(i)
				}
			}
			wait = renew
		}
		t.Reset(wait)
	}
}

// keep renews inbox i's lease, or takes it back. Nothing is written into
// an inbox that is not reachable (an empty mount point stays empty).
func (k *Keeper) keep(w *watcher.Watcher, i int) error {
	if err := w.Reachable(); err != nil {
		k.mu.Lock()
		k.leases[i] = nil // taken back when the inbox returns
		k.mu.Unlock()
		return unreachable{err}
	}
	k.mu.Lock()
	l := k.leases[i]
	k.mu.Unlock()
	if l != nil {
		if err := l.Renew(); err != nil {
			return fmt.Errorf("renew the lease: %w", err)
		}
		return nil
	}
	l, err := k.take(w.Status().Path)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.leases[i] = l
	k.mu.Unlock()
	k.gained(i)
	return nil
}

// release gives up every lease held.
func (k *Keeper) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, l := range k.leases {
		if l != nil {
			l.Release()
			k.leases[i] = nil
		}
	}
}

// Problems lists the inboxes another ppsync holds, for the run's summary.
func (k *Keeper) Problems() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for i, taken := range k.taken {
		if taken && k.faults[i] != nil {
			out = append(out, fmt.Sprintf("inbox %s: not processed: %v", k.watchers[i].Status().Path, k.faults[i]))
		}
	}
	return out
}

// unreachable is a lease not kept because its inbox is unreachable: the
// watcher's check that found it has logged the outage, so the keeper's
// lines about it are debug lines.
type unreachable struct{ error }

func (u unreachable) Unwrap() error { return u.error }

// quietIf is lvl, or debug when err is an unreachable inbox.
func quietIf(err error, lvl slog.Level) slog.Level {
	var u unreachable
	if errors.As(err, &u) {
		return slog.LevelDebug
	}
	return lvl
}
