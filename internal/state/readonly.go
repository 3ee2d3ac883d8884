package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNotCreated is returned by OpenReadOnly for a state file that does not exist yet.
var ErrNotCreated = errors.New("state file not created yet")

// OpenReadOnly opens an existing state file for reading only: it never
// creates the file or its folder and never writes, so it can be run as
// another user than the service's. A file held by a running ppsync gives
// an error wrapping ErrLocked within timeout; a missing one ErrNotCreated.
func OpenReadOnly(path string, timeout time.Duration) (s *Store, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state %s: %w", path, ErrNotCreated)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, damaged(path, fmt.Errorf("%v", r))
		}
	}()
	opts := bolt.Options{Timeout: timeout, ReadOnly: true}
	db, err := bolt.Open(path, 0o600, &opts)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("another ppsync is using %s: %w", path, ErrLocked)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, damaged(path, err)
		}
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	s = &Store{db: db, path: path, opts: opts, pageSize: db.Info().PageSize, damage: damage{c: make(chan struct{})}, touched: make(chan struct{}, 1)}
	s.noteReleased()
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketFiles, bucketDocs, bucketBatches} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("state %s has no %s records: an older schema that ppsync upgrades when it next starts", path, b)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
