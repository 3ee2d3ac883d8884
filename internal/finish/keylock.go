package finish

import "sync"

// keyLock is one document key's writer lock, shared by its waiters.
type keyLock struct {
	mu    sync.Mutex
	users int
}

// lockKey makes the caller the only writer of key's files until unlock.
// The files are read again under the lock, so a second caller finds them
// finished and writes nothing.
func (f *Finisher) lockKey(key string) (unlock func()) {
	f.mu.Lock()
	l := f.writing[key]
	if l == nil {
		l = &keyLock{}
		f.writing[key] = l
	}
	l.users++
	f.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		f.mu.Lock()
		if l.users--; l.users == 0 {
			delete(f.writing, key)
		}
		f.mu.Unlock()
	}
}

// tryLockKey is lockKey when key's lock is free; ok is false, and nothing
// is held, when it is not.
func (f *Finisher) tryLockKey(key string) (unlock func(), ok bool) {
	f.mu.Lock()
	l := f.writing[key]
	if l == nil {
		l = &keyLock{}
		f.writing[key] = l
	}
	l.users++
	if !l.mu.TryLock() {
		if l.users--; l.users == 0 {
			delete(f.writing, key)
		}
		f.mu.Unlock()
		return nil, false
	}
	f.mu.Unlock()
	return func() {
		l.mu.Unlock()
		f.mu.Lock()
		if l.users--; l.users == 0 {
			delete(f.writing, key)
		}
		f.mu.Unlock()
	}, true
}
