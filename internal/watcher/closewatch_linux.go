//go:build linux

package watcher

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// closeWatch reads a second inotify instance for the two events fsnotify
// does not pass on: IN_CLOSE_WRITE (a writer closed the file) and
// IN_MOVED_TO (a file was renamed into a watched folder).
type closeWatch struct {
	f    *os.File
	out  chan string
	done chan struct{}

	mu   sync.Mutex
	dirs map[int32]string // watch descriptor → folder
}

// newCloseWatch starts reading close-write and moved-to events; folders are
// added with Add.
func newCloseWatch() (closeSource, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	// Non-blocking and wrapped in an os.File, reads park in the runtime's
	// poller and Close wakes them.
	c := &closeWatch{f: os.NewFile(uintptr(fd), "inotify"), out: make(chan string, 64),
		done: make(chan struct{}), dirs: map[int32]string{}}
	go c.read()
	return c, nil
}

// Add watches dir (not its subfolders).
func (c *closeWatch) Add(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var wd int
	err := c.control(func(fd int) error {
		var err error
		wd, err = unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
		return err
	})
	if err != nil {
		return fmt.Errorf("watch %s for close-write and moved-to: %w", dir, err)
	}
	c.dirs[int32(wd)] = dir
	return nil
}

func (c *closeWatch) control(fn func(fd int) error) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Paths delivers the path of every file closed after writing or renamed in.
func (c *closeWatch) Paths() <-chan string { return c.out }

// Close stops reading and releases the inotify instance.
func (c *closeWatch) Close() error {
	close(c.done)
	return c.f.Close()
}

func (c *closeWatch) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			// Closed, or the kernel refused the read: from here on files
			// settle, as they do where there are no such events.
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break // never from a sane kernel: drop the rest of this read
			}
			name := buf[off+unix.SizeofInotifyEvent : end]
			off = end
			if ev.Mask&unix.IN_IGNORED != 0 {
				c.mu.Lock()
				delete(c.dirs, ev.Wd)
				c.mu.Unlock()
				continue
			}
			if ev.Mask&unix.IN_ISDIR != 0 || ev.Mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) == 0 {
				continue // folders and queue overflows: the rescans cover them
			}
			c.mu.Lock()
			dir, ok := c.dirs[ev.Wd]
			c.mu.Unlock()
			if !ok {
				continue
			}
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			select {
			case c.out <- filepath.Join(dir, string(name)):
			case <-c.done:
				return
			}
		}
	}
}

// openForWriting reports whether someone holds p open for writing: the
// kernel refuses a read lease on such a file (EAGAIN). Where a lease
// cannot be had at all (a file of another user, leases disabled, a network
// filesystem) it reports false and the close-write and settle rules stand
// alone. The lease is held for the duration of two system calls; a writer
// opening the file meanwhile waits that long.
func openForWriting(p string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		return err == unix.EAGAIN
	}
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
	return false
}
