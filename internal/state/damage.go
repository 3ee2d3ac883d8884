package state

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// damage remembers the first sign that the open state file is damaged, so
// the daemon stops with it instead of going on with a state it cannot trust.
type damage struct {
	once sync.Once
	err  error
	c    chan struct{}
}

func (d *damage) set(err error) {
	d.once.Do(func() {
		d.err = err
		if d.c != nil {
			close(d.c)
		}
	})
}

// Damaged is closed once a transaction found the state file damaged (bbolt
// panicked reading it); DamageErr then says which file and what to do.
func (s *Store) Damaged() <-chan struct{} { return s.damage.c }

// DamageErr returns the damage found, wrapping ErrDamaged, or nil.
func (s *Store) DamageErr() error {
	select {
	case <-s.damage.c:
		return s.damage.err
	default:
		return nil
	}
}

// fromBolt reports that a recovered panic was raised inside bbolt (reading
// a damaged page), not by a mistake of ppsync's own, which is re-raised.
// stack is debug.Stack() in the deferred recover: the function that
// panicked is the first one after the runtime's panic frames.
func fromBolt(stack []byte) bool {
	lines := strings.Split(string(stack), "\n")
	panicking := false
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "goroutine ") {
			continue // file:line lines and the header
		}
		switch {
		case !panicking:
			panicking = strings.HasPrefix(l, "panic(")
		case strings.HasPrefix(l, "runtime."), strings.HasPrefix(l, "panic("):
		default:
			return strings.HasPrefix(l, "go.etcd.io/bbolt")
		}
	}
	return false
}

// recoverDamage turns a panic of bbolt's, on a page it could not read,
// into an error naming the file and the way out (and remembers it). Call
// it deferred, with the caller's error.
func (s *Store) recoverDamage(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if !fromBolt(debug.Stack()) {
		panic(r)
	}
	*err = damaged(s.path, fmt.Errorf("%v", r))
	s.damage.set(*err)
}

// markDamaged remembers err when it says the file is damaged.
func (s *Store) markDamaged(err error) error {
	if errors.Is(err, ErrDamaged) {
		s.damage.set(err)
	}
	return err
}

// Probe reads the parts of the state every start reads (the schema, the
// index of open records, the tallies and the index of failed files), page
// by page, so that damage there stops a run before it starts.
func (s *Store) Probe() (err error) {
	defer s.recoverDamage(&err)
	return s.markDamaged(s.view(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketOpen, bucketTally, bucketErrs} {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			if err := b.ForEach(func(k, v []byte) error { return nil }); err != nil {
				return damaged(s.path, err)
			}
		}
		return nil
	}))
}

// openFileFor captures the file bbolt opens, so that a panic inside
// bolt.Open (a damaged freelist) can still close it and free its lock.
func openFileFor(f **os.File) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		file, err := os.OpenFile(name, flag, perm)
		if err == nil {
			*f = file
		}
		return file, err
	}
}
