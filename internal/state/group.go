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

// UpdateEach runs fn(tx, i) for i in 0..n-1 in one read-write transaction
// and returns the error of each (all nil when the transaction committed).
// When the transaction fails for anything but ErrWrite, each fn(tx, i) is
// run again in a transaction of its own and errs holds what each did. fn
// must therefore be safe to run twice for the same i: it must set, not
// accumulate, what it reports to the caller.
func (s *Store) UpdateEach(n int, fn func(tx *Tx, i int) error) (errs []error) {
	errs = make([]error, n)
	if n == 0 {
		return errs
	}
	err := s.Update(func(tx *Tx) error {
		for i := range n {
			if err := fn(tx, i); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return errs
	case errors.Is(err, ErrWrite) || n == 1:
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range n {
		errs[i] = s.Update(func(tx *Tx) error { return fn(tx, i) })
	}
	return errs
}
