package state

import "errors"

// A batch step of the pipeline (the files validated together, the answers
// of one poll, the results finished together) writes its records in one
// transaction: one commit, two fdatasyncs, for the whole step instead of
// one for each record. Each record still goes through its typed operation,
// which checks the life-cycle table for that record.
//
// The step is refused as a whole first: when any record's operation fails
// (a step the table refuses, a record that cannot be read) the transaction
// is rolled back and nothing of the step is written. The records are then
// written again one transaction each, as before grouping, so that a fault
// in one record leaves the others recorded and only that one refused (its
// error at its index, the record as it was). A state file that cannot be
// written (ErrWrite) fails every record of the step at once: trying them
// one by one would fail alike.

// A step of many documents is written in parts once the state is large.
// bbolt reads the pages a write changes through its mapping, and the
// kernel maps the 64 KiB of cached file around each one: documents are
// keyed by content hash and lie anywhere in the file, so a commit of fifty
// of them maps some 10 MiB in one go, before any look at the budget
// (budget.go) can hand it back. In parts of eachPart records, each commit
// maps about 2 MiB and the budget is looked at between them. A state
// smaller than partsAbove cannot map more than the budget allows in any
// case, and its steps stay one commit (one fdatasync pair) each.

// eachPart is how many records one transaction of UpdateEach writes when
// the state is larger than partsAbove.
const eachPart = 10

// partsAbove is the state's size over which UpdateEach writes in parts.
const partsAbove = 16 << 20

// UpdateEach runs fn(tx, i) for i in 0..n-1 in one read-write transaction
// (in parts of eachPart, one transaction each, in order, once the state is
// larger than partsAbove) and returns the error of each (all nil when
// every transaction committed). When a transaction fails for anything but
// ErrWrite, each fn(tx, i) of its part is run again in a transaction of
// its own and errs holds what each did; an ErrWrite fails its part and
// every part after it. fn must therefore be safe to run twice for the same
// i: it must set, not accumulate, what it reports to the caller. A step
// written in parts is not atomic as a whole: a crash between two parts
// leaves the first written, as a crash between two steps would.
func (s *Store) UpdateEach(n int, fn func(tx *Tx, i int) error) (errs []error) {
	errs = make([]error, n)
	per := n
	if s.size.Load() > s.partsAbove() {
		per = eachPart
	}
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		if err := s.updatePart(lo, hi, fn, errs[lo:hi]); errors.Is(err, ErrWrite) {
			for i := hi; i < n; i++ {
				errs[i] = err
			}
			break
		}
	}
	return errs
}

// partsAbove is the state's size over which UpdateEach writes in parts
// (partsAbove, or what a test set).
func (s *Store) partsAbove() int64 {
	if s.partsOver != 0 {
		return s.partsOver
	}
	return partsAbove
}

// updatePart is UpdateEach for records lo to hi-1 (their errors in errs);
// it returns the ErrWrite that failed them all, if one did.
func (s *Store) updatePart(lo, hi int, fn func(tx *Tx, i int) error, errs []error) error {
	err := s.Update(func(tx *Tx) error {
		for i := lo; i < hi; i++ {
			if err := fn(tx, i); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrWrite) || hi-lo == 1:
		for i := range errs {
			errs[i] = err
		}
		if errors.Is(err, ErrWrite) {
			return err
		}
		return nil
	}
	for i := lo; i < hi; i++ {
		errs[i-lo] = s.Update(func(tx *Tx) error { return fn(tx, i) })
	}
	return nil
}
