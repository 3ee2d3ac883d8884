//go:build !linux

package state

// ReleaseMapped hands the state file's mapped pages back to the page cache
// where the platform lets a process do that (Linux); elsewhere the system
// reclaims them when it needs the memory.
func (s *Store) ReleaseMapped() error { return nil }

// releaseMapped is ReleaseMapped from within a transaction.
func (t *Tx) releaseMapped() error { return nil }

// residentFileBytes reports nothing resident: the mapped pages are never
// over the budget, and releasing them would do nothing.
func residentFileBytes() (int64, error) { return 0, nil }

// residentBytes reports nothing resident either.
func residentBytes() (file, total int64, err error) { return 0, 0, nil }

// gauge reports nothing resident either.
type gauge struct{}

func (*gauge) read() (file, total int64, err error) { return 0, 0, nil }
func (*gauge) close()                               {}

// releaser returns a function that does nothing.
func (s *Store) releaser(...string) func() { return func() {} }
