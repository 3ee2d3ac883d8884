// Package lease keeps two ppsync daemons off one inbox, on one machine or
// on several sharing the folder: a small lease file in the inbox names its
// holder and is rewritten while it runs. bbolt's lock only guards one state
// file on one machine; the lease guards the folder itself.
//
// Two rules keep leases from being confused. A holder is named by its
// instance id (one per state file, kept beside it) and its machine id,
// never by its hostname: "a previous run of ours" is a lease with our
// instance id. And a holder's clock is never compared with ours: a holder
// is dead when its lease file has not changed for the lease period as we
// watch it, on our own monotonic clock.
package lease

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

// FileName is the lease file in each inbox (a dotfile: the watcher ignores it).
const FileName = ".ppsync-lease.json"

// Holder names a running ppsync. Renewed is informative only (the holder's
// own clock); Beat changes at every renewal and is what others watch.
type Holder struct {
	// ID is this run's own random id.
	ID       string    `json:"id"`
	Instance string    `json:"instance"`
	Machine  string    `json:"machine,omitempty"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Renewed  time.Time `json:"renewed"`
	Beat     uint64    `json:"beat"`
}

// ErrHeld means another ppsync holds the inbox.
var ErrHeld = errors.New("inbox held by another ppsync")

// ErrReleased means the lease was released and cannot be renewed.
var ErrReleased = errors.New("lease already released")

// Me describes this process, as the instance id names it.
func Me(id Identity, statePath string) Holder {
	var b [8]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	return Holder{ID: hex.EncodeToString(b[:]), Instance: id.Instance, Machine: id.Machine, Host: id.Host,
		PID: os.Getpid(), State: statePath, Started: now, Renewed: now}
}

// ours reports that h is a lease of this instance: this run, or a previous
// run of the same state file (bbolt's lock on it proves that one is gone).
func ours(h, me Holder) bool {
	return h.Instance != "" && h.Instance == me.Instance && h.Machine == me.Machine
}

// Observer watches foreign leases on our clock. One observer serves every
// inbox of a daemon; it is safe for concurrent use.
type Observer struct {
	// TTL is how long a lease must stay unchanged, as we watch it, before
	// its holder is taken for dead.
	TTL time.Duration

	mu   sync.Mutex
	seen map[string]sighting
}

type sighting struct {
	content []byte
	since   time.Time // when we first saw this content (monotonic reading)
}

// NewObserver returns an observer judging holders dead after ttl unchanged.
func NewObserver(ttl time.Duration) *Observer {
	return &Observer{TTL: ttl, seen: map[string]sighting{}}
}

// unchangedFor records content as seen at path now and returns for how long
// it has been seen unchanged.
func (o *Observer) unchangedFor(path string, content []byte) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.seen[path]
	if !ok || !bytes.Equal(s.content, content) {
		o.seen[path] = sighting{content: bytes.Clone(content), since: time.Now()}
		return 0
	}
	return time.Since(s.since)
}

func (o *Observer) forget(path string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.seen, path)
}

// Options tune Acquire.
type Options struct {
	// Confirm is how long Acquire waits after writing before reading the
	// lease back, so two daemons taking it together cannot both win.
	Confirm time.Duration
	// Now is the holder's clock for the informative Renewed field (tests
	// play a skewed clock with it); time.Now when nil.
	Now func() time.Time
}

// Lease is a held inbox lease.
type Lease struct {
	path string
	me   Holder
	obs  *Observer
	now  func() time.Time

	mu       sync.Mutex
	released bool
}

// Acquire takes the lease of dir for me unless another ppsync holds it. A
// lease of ours (same instance id) is taken over at once; another holder's
// lease is taken over only once obs has seen it unchanged for obs.TTL, so
// the first call that finds a foreign lease always fails with ErrHeld and
// a later call (after the lease period) succeeds if nothing renewed it.
func Acquire(dir string, me Holder, obs *Observer, o Options) (*Lease, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	path := filepath.Join(dir, FileName)
	raw, h, found := read(path)
	if found && h.ID != me.ID && !ours(h, me) {
		if d := obs.unchangedFor(path, raw); d < obs.TTL {
			return nil, held(dir, h, obs.TTL, d)
		}
	}
	l := &Lease{path: path, me: me, obs: obs, now: o.Now}
	if err := l.write(); err != nil {
		return nil, fmt.Errorf("inbox %s: cannot write the lease file %s: %w", dir, FileName, err)
	}
	if o.Confirm > 0 {
		time.Sleep(o.Confirm)
		if raw, h, ok := read(path); ok && h.ID != me.ID {
			obs.unchangedFor(path, raw) // the winner's lease, watched from now
			return nil, held(dir, h, obs.TTL, 0)
		}
	}
	obs.forget(path)
	return l, nil
}

func held(dir string, h Holder, ttl, unchanged time.Duration) error {
	machine := h.Machine
	if machine == "" {
		machine = "unknown"
	}
	return fmt.Errorf("%w: inbox %s is being processed by ppsync on host %q (machine id %s, instance %s, pid %d, state %s): "+
		"stop that one, or give each ppsync its own inbox; if it died, its lease %s is taken over once it has not changed "+
		"for %s as this ppsync watches it (unchanged for %s so far)",
		ErrHeld, dir, h.Host, machine, h.Instance, h.PID, h.State, FileName, ttl, unchanged.Round(time.Second))
}

// read returns the lease file's bytes and what they say; found is false
// when there is no lease file. A file that does not parse is still a lease
// (an older or damaged one): it is watched like any other.
func read(path string) (raw []byte, h Holder, found bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Holder{}, false
	}
	if json.Unmarshal(b, &h) != nil {
		h = Holder{Host: "unknown (unreadable lease file)"}
	}
	return b, h, true
}

func (l *Lease) write() error {
	l.me.Renewed = l.now().UTC()
	l.me.Beat++
	b, _ := json.MarshalIndent(l.me, "", "  ")
	return results.WriteAtomic(l.path, append(b, '\n'))
}

// Renew rewrites the lease (its beat changes, which is what others watch);
// it fails with ErrHeld if another ppsync took it, and with ErrReleased
// after Release (the file is never re-created).
func (l *Lease) Renew() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("renew the lease of %s: %w", filepath.Dir(l.path), ErrReleased)
	}
	if raw, h, ok := read(l.path); ok && h.ID != l.me.ID {
		l.obs.unchangedFor(l.path, raw) // the taker's lease, watched from now
		return held(filepath.Dir(l.path), h, l.obs.TTL, 0)
	}
	return l.write()
}

// Release removes the lease if it is still ours. It is safe to call more
// than once and concurrently with Renew.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	if _, h, ok := read(l.path); ok && h.ID == l.me.ID {
		_ = os.Remove(l.path)
	}
}
