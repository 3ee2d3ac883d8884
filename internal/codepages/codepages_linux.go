package codepages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Pages are the executable's mappings that can be handed back.
type Pages struct {
	ranges []span
}

type span struct{ start, end uintptr }

// Bytes is how much address space the mappings cover.
func (p *Pages) Bytes() int64 {
	var n int64
	for _, r := range p.ranges {
		n += int64(r.end - r.start)
	}
	return n
}

// Find reads /proc/self/smaps and keeps the mappings of this process's
// executable that hold nothing but the file's bytes: no write permission
// and no anonymous (copied-on-write) page. That is the code and the
// read-only data; it leaves out the writable data, and the part of the
// read-only data the dynamic loader relocated before protecting it
// (RELRO), whose pages differ from the file's and would be lost. A
// read-only mapping never gains such a page afterwards, so the list holds
// for the process's life.
func Find() (*Pages, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return nil, fmt.Errorf("find the program's code pages: %w", err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("find the program's code pages: %w", err)
	}
	return &Pages{ranges: pure(b, uint64(st.Dev), st.Ino)}, nil
}

// pure parses smaps and returns the read-only mappings of the file with
// the given device and inode that have no anonymous page.
func pure(smaps []byte, dev, ino uint64) []span {
	var out []span
	var cur *span // the current mapping, while it qualifies
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if m, ok := header(line); ok {
			if cur != nil {
				out = append(out, *cur)
			}
			cur = nil
			if m.ino == ino && m.major == devMajor(dev) && m.minor == devMinor(dev) && !strings.Contains(m.perms, "w") {
				cur = &span{m.start, m.end}
			}
			continue
		}
		if cur == nil {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			if kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err != nil || kb != 0 {
				cur = nil
			}
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

type mapLine struct {
	start, end   uintptr
	perms        string
	major, minor uint64
	ino          uint64
}

// header parses a mapping's first line in smaps (as in /proc/PID/maps:
// "start-end perms offset major:minor inode [path]").
func header(line string) (mapLine, bool) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return mapLine{}, false
	}
	a, b, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapLine{}, false
	}
	s, err1 := strconv.ParseUint(a, 16, 64)
	e, err2 := strconv.ParseUint(b, 16, 64)
	maj, mi, ok2 := strings.Cut(f[3], ":")
	ma, err3 := strconv.ParseUint(maj, 16, 32)
	mn, err4 := strconv.ParseUint(mi, 16, 32)
	ino, err5 := strconv.ParseUint(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || !ok2 || e <= s || len(f[1]) != 4 {
		return mapLine{}, false
	}
	return mapLine{start: uintptr(s), end: uintptr(e), perms: f[1], major: ma, minor: mn, ino: ino}, true
}

// devMajor and devMinor split a Linux device number (glibc's encoding).
func devMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff) }
func devMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^uint64(0xff) }

// Release drops this process's mappings of the pages (madvise
// MADV_DONTNEED). The file's bytes stay in the page cache. It does nothing
// while a debugger traces the process: one that sets a breakpoint writes
// into the code, and dropping that copied page would drop the breakpoint.
func (p *Pages) Release() error {
	if b, err := os.ReadFile("/proc/self/status"); err != nil || tracerPid(b) != 0 {
		return nil
	}
	for _, r := range p.ranges {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, r.start, r.end-r.start, syscall.MADV_DONTNEED); e != 0 {
			return fmt.Errorf("release the program's code pages: %w", e)
		}
	}
	return nil
}

// tracerPid is the TracerPid field of /proc/PID/status (-1 when absent).
func tracerPid(status []byte) int {
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
