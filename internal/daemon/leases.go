package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/lease"
	"github.com/ppsync/ppsync/internal/watcher"
)

// leaseTTL is how long a lease lives without renewal; it is renewed every third of it.
const leaseTTL = 30 * time.Second

// leaseRetryMin is the first pause after an inbox's lease could not be
// renewed or taken; it doubles up to the renewal interval.
const leaseRetryMin = time.Second

// leaseKeeper holds the lease of every inbox. An inbox that cannot be
// reached, or whose lease file cannot be written (read-only, full), is a
// fault of that inbox alone: it is reported and retried, and its lease is
// taken back when it returns. Only another ppsync holding an inbox stops
// the daemon.
type leaseKeeper struct {
	holder   lease.Holder
	watchers []*watcher.Watcher
	log      *slog.Logger
	// healed is called when an inbox's lease is taken back after a fault.
	healed func(inbox int)

	mu     sync.Mutex
	leases []*lease.Lease // nil while not held
	faults []error        // why an inbox's lease is not renewed
}

func newLeaseKeeper(holder lease.Holder, watchers []*watcher.Watcher, log *slog.Logger) *leaseKeeper {
	return &leaseKeeper{holder: holder, watchers: watchers, log: log,
		leases: make([]*lease.Lease, len(watchers)), faults: make([]error, len(watchers))}
}

// acquire takes the lease of every reachable inbox at start-up. Another
// ppsync holding one is an error; an unreachable inbox is not (it is taken
// when it comes back).
func (k *leaseKeeper) acquire() error {
	for i, w := range k.watchers {
		if err := w.Reachable(); err != nil {
			k.setFault(i, err)
			continue
		}
		l, err := lease.Acquire(w.Status().Path, k.holder, leaseTTL, 150*time.Millisecond)
		switch {
		case errors.Is(err, lease.ErrHeld):
			return err
		case err != nil:
			k.setFault(i, err)
			k.log.Error("cannot take the lease of an inbox; retrying (the other inboxes go on)", "inbox", w.Status().Path, "error", err)
		default:
			k.mu.Lock()
			k.leases[i] = l
			k.mu.Unlock()
		}
	}
	return nil
}

// fault returns why inbox i's lease is not held and renewed, or nil.
func (k *leaseKeeper) fault(i int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.faults[i]
}

func (k *leaseKeeper) setFault(i int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults[i] = err
}

// run keeps inbox i's lease until ctx ends; it sends on lost when another
// ppsync took the inbox.
func (k *leaseKeeper) run(ctx context.Context, i int, lost chan<- error) {
	w := k.watchers[i]
	path := w.Status().Path
	wait := leaseTTL / 3
	if k.fault(i) != nil {
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
		err := k.keep(w, i)
		if errors.Is(err, lease.ErrHeld) {
			select {
			case lost <- err:
			default:
			}
			return
		}
		was := k.fault(i)
		k.setFault(i, err)
		switch {
		case err != nil:
			if was == nil {
				k.log.Error("inbox lease not renewed; the inbox is retried and its lease taken back when it can be written again (the other inboxes go on)",
					"inbox", path, "error", err)
			}
			wait = min(max(wait*2, leaseRetryMin), leaseTTL/3)
		default:
			if was != nil {
				k.log.Info("inbox lease taken back", "inbox", path)
				if k.healed != nil {
					k.healed(i)
				}
			}
			wait = leaseTTL / 3
		}
		t.Reset(wait)
	}
}

// keep renews inbox i's lease, or takes it back. Nothing is written into
// an inbox that is not reachable (an empty mount point stays empty).
func (k *leaseKeeper) keep(w *watcher.Watcher, i int) error {
	if err := w.Reachable(); err != nil {
		k.mu.Lock()
		k.leases[i] = nil // taken back when the inbox returns
		k.mu.Unlock()
		return err
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
	l, err := lease.Acquire(w.Status().Path, k.holder, leaseTTL, 150*time.Millisecond)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.leases[i] = l
	k.mu.Unlock()
	return nil
}

// release gives up every lease held.
func (k *leaseKeeper) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, l := range k.leases {
		if l != nil {
			l.Release()
			k.leases[i] = nil
		}
	}
}
