package daemon

import "github.com/ppsync/ppsync/internal/lease"

// leaseKeeper lends the lease keeper's faults to the status report.
type leaseKeeper struct{ *lease.Keeper }

// fault returns why inbox i's lease is not held and renewed, or nil.
func (k *leaseKeeper) fault(i int) error { return k.Fault(i) }
