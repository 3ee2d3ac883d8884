// Package lease keeps two ppsync daemons off one inbox, on one machine or
// on several sharing the folder: a small lease file in the inbox names its
// holder and is renewed while it runs. bbolt's lock only guards one state
// file on one machine; the lease guards the folder itself.
package lease

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

// FileName is the lease file in each inbox (a dotfile: the watcher ignores it).
const FileName = ".ppsync-lease.json"

// Holder names a running ppsync.
type Holder struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Renewed time.Time `json:"renewed"`
}

// ErrHeld means another ppsync holds the inbox.
var ErrHeld = errors.New("inbox held by another ppsync")

// ErrReleased means the lease was released and cannot be renewed.
var ErrReleased = errors.New("lease already released")

// Lease is a held inbox lease.
type Lease struct {
	path string
	me   Holder
	ttl  time.Duration

	mu       sync.Mutex
	released bool
}

// Me describes this process.
func Me(statePath string) Holder {
	host, _ := os.Hostname()
	var b [8]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	return Holder{ID: hex.EncodeToString(b[:]), Host: host, PID: os.Getpid(), State: statePath, Started: now, Renewed: now}
}

// Acquire takes the lease of dir for me, unless a live holder has it. A
// lease not renewed within ttl is stale. A lease from this host for the
// same state file, or from a process no longer alive on this host, is
// taken over at once. After writing, it reads the file back once more a
// moment later, so two daemons starting together cannot both win.
func Acquire(dir string, me Holder, ttl, confirm time.Duration) (*Lease, error) {
	path := filepath.Join(dir, FileName)
	if h, ok := read(path); ok && h.ID != me.ID && !takeable(h, me, ttl) {
		return nil, held(dir, h, ttl)
	}
	l := &Lease{path: path, me: me, ttl: ttl}
	if err := l.write(); err != nil {
		return nil, fmt.Errorf("inbox %s: cannot write the lease file %s: %w", dir, FileName, err)
	}
	if confirm > 0 {
		time.Sleep(confirm)
		if h, ok := read(path); ok && h.ID != me.ID {
			return nil, held(dir, h, ttl)
		}
	}
	return l, nil
}

func held(dir string, h Holder, ttl time.Duration) error {
	return fmt.Errorf("%w: inbox %s is being processed by ppsync on host %q (pid %d, state %s, since %s): stop that one first, "+
		"or give each ppsync its own inbox (if it died, its lease in %s expires %s after its last renewal, at %s)",
		ErrHeld, dir, h.Host, h.PID, h.State, h.Started.Local().Format(time.RFC3339), FileName, ttl, h.Renewed.Add(ttl).Local().Format(time.RFC3339))
}

func takeable(h, me Holder, ttl time.Duration) bool {
	if time.Since(h.Renewed) > ttl {
		return true
	}
	if h.Host == me.Host {
		// Same machine: the same state file means a previous run of ours
		// (bbolt's lock proves it is gone); otherwise the holder must be alive.
		return h.State == me.State || !alive(h.PID)
	}
	return false
}

func alive(pid int) bool {
	if runtime.GOOS == "windows" {
		// No signal 0 there: assume the holder lives until its lease goes stale.
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}

func read(path string) (Holder, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Holder{}, false
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.ID == "" {
		return Holder{}, false
	}
	return h, true
}

func (l *Lease) write() error {
	l.me.Renewed = time.Now().UTC()
	b, _ := json.MarshalIndent(l.me, "", "  ")
	return results.WriteAtomic(l.path, append(b, '\n'))
}

// Renew refreshes the lease; it fails with ErrHeld if another ppsync took
// it, and with ErrReleased after Release (the file is never re-created).
func (l *Lease) Renew() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("renew the lease of %s: %w", filepath.Dir(l.path), ErrReleased)
	}
	if h, ok := read(l.path); ok && h.ID != l.me.ID {
		return held(filepath.Dir(l.path), h, l.ttl)
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
	if h, ok := read(l.path); ok && h.ID == l.me.ID {
		_ = os.Remove(l.path)
	}
}
