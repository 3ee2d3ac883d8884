package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// A file is marked in the state while it is being validated (when the
// validation runs long enough to matter: see filecheck.Journal), and the
// mark is cleared afterwards. A mark still there when ppsync starts again was
// left by a process that stopped while validating that file: it crashed,
// ran out of memory (a file that exhausts memory kills the daemon at every
// restart) or was killed. A stop at that moment can be chance (a restart,
// a power cut), so the file is validated once more; when the run after
// that stops while validating it too, the file is refused with an error
// file instead of being validated a third time. A new life of the file
// (another size or mtime) starts afresh.

// CrashesToRefuse is how many runs must have stopped while validating the
// same life of a file before it is refused.
const CrashesToRefuse = 2

// bucketValidating holds the marks, keyed by the file's path. It is created
// by the first mark, so stores of every schema version have it or not.
var bucketValidating = []byte("validating")

// Validation is a mark: which life of a file was being validated, by which
// run of ppsync, since when, and how many runs before stopped while
// validating it.
type Validation struct {
	Size    int64     `json:"size"`
	ModTime int64     `json:"mtime"` // unix nanoseconds
	Run     string    `json:"run"`
	Started time.Time `json:"started"`
	Crashes int       `json:"crashes,omitempty"`
}

// validationRun names this process's run of the store, so that its own
// marks are told apart from those a crashed run left.
type validationRun struct {
	once sync.Once
	id   string
}

func (s *Store) runID() string {
	s.validation.once.Do(func() {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		s.validation.id = hex.EncodeToString(b)
	})
	return s.validation.id
}

// CheckValidation reads what the marks say of this life (size, mtime) of
// the file at path: prior is how many runs stopped while validating it
// (an earlier run's mark counts one more than it recorded), marked that
// some mark of path is there (EndValidation clears it). At CrashesToRefuse
// runs, refuse is set, with since the time the last of them began, and the
// mark is removed (the caller refuses the file instead of validating it;
// 'ppsync retry' or a changed file tries again). Only then does it write.
func (s *Store) CheckValidation(path string, size, mtime int64) (prior int, since time.Time, refuse, marked bool, err error) {
	run := s.runID()
	var prev Validation
	err = s.View(func(t *Tx) error {
		b := t.tx.Bucket(bucketValidating)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(path))
		if raw == nil {
			return nil
		}
		marked = true
		return json.Unmarshal(raw, &prev)
	})
	if err != nil {
		return 0, time.Time{}, false, false, fmt.Errorf("read the validation mark of %s: %w", path, err)
	}
	if marked && prev.Size == size && prev.ModTime == mtime {
		prior = prev.Crashes
		if prev.Run != run {
			prior++ // that run stopped while validating it
		}
	}
	if prior < CrashesToRefuse {
		return prior, time.Time{}, false, marked, nil
	}
	if err := s.EndValidation(path); err != nil {
		return 0, time.Time{}, false, marked, err
	}
	return prior, prev.Started, true, false, nil
}

// BeginValidation marks the file at path (with this size and mtime) as
// being validated by this run, after prior runs stopped while validating
// it (CheckValidation).
func (s *Store) BeginValidation(path string, size, mtime int64, prior int) error {
	v, err := json.Marshal(Validation{Size: size, ModTime: mtime, Run: s.runID(), Started: time.Now().UTC(), Crashes: prior})
	if err != nil {
		return err
	}
	err = s.Update(func(t *Tx) error {
		b, err := t.tx.CreateBucketIfNotExists(bucketValidating)
		if err != nil {
			return err
		}
		return b.Put([]byte(path), v)
	})
	if err != nil {
		return fmt.Errorf("mark %s as being validated: %w", path, err)
	}
	return nil
}

// EndValidation clears the mark of path: its validation finished, with
// whatever verdict.
func (s *Store) EndValidation(path string) error {
	err := s.Update(func(t *Tx) error {
		if b := t.tx.Bucket(bucketValidating); b != nil {
			return b.Delete([]byte(path))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear the validation mark of %s: %w", path, err)
	}
	return nil
}

// Validations calls fn with every mark (for status and tests).
func (t *Tx) Validations(fn func(path string, v Validation) error) error {
	b := t.tx.Bucket(bucketValidating)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, raw []byte) error {
		var v Validation
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("validation mark of %s: %w", k, err)
		}
		return fn(string(k), v)
	})
}
