// Package procmaps reads the lines of Linux's /proc/PID/maps (and the
// header lines of /proc/PID/smaps, which have the same form).
package procmaps

import (
	"strconv"
	"strings"
)

// Mapping is one line: "start-end perms offset major:minor inode [path]".
type Mapping struct {
	Start, End   uintptr
	Perms        string
	Major, Minor uint64
	Inode        uint64
}

// Parse reads one line; ok is false for a line of another form (such as
// smaps' "Rss:" lines).
func Parse(line string) (m Mapping, ok bool) {
	f := strings.Fields(line)
	if len(f) < 5 || len(f[1]) != 4 {
		return Mapping{}, false
	}
	a, b, found := strings.Cut(f[0], "-")
	s, err1 := strconv.ParseUint(a, 16, 64)
	e, err2 := strconv.ParseUint(b, 16, 64)
	maj, mi, found2 := strings.Cut(f[3], ":")
	ma, err3 := strconv.ParseUint(maj, 16, 32)
	mn, err4 := strconv.ParseUint(mi, 16, 32)
	ino, err5 := strconv.ParseUint(f[4], 10, 64)
	if !found || !found2 || err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || e <= s {
		return Mapping{}, false
	}
	return Mapping{Start: uintptr(s), End: uintptr(e), Perms: f[1], Major: ma, Minor: mn, Inode: ino}, true
}

// Of reports whether m maps the file with device number dev (as stat
// gives it) and inode ino.
func (m Mapping) Of(dev, ino uint64) bool {
	return m.Inode == ino && m.Major == DevMajor(dev) && m.Minor == DevMinor(dev)
}

// DevMajor and DevMinor split a Linux device number (glibc's encoding).
func DevMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff) }
func DevMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^uint64(0xff) }
