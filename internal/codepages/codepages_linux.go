package codepages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/ppsync/ppsync/internal/procmaps"
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
		if m, ok := procmaps.Parse(line); ok {
			if cur != nil {
				out = append(out, *cur)
			}
			cur = nil
			if m.Of(dev, ino) && !strings.Contains(m.Perms, "w") {
				cur = &span{m.Start, m.End}
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
