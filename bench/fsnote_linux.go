package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// workFSNote warns when the work folder is on an ext4 file system without
// a journal: such an ext4, when it creates a file, reads every free inode
// of the group deleted less than a minute ago (five while its inode table
// is not yet written back) and skips it (recently_deleted in the kernel's
// find_inode_bit), so results written after a run's clean-up cost several
// times what they do on a journaled ext4, mkfs.ext4's default.
func workFSNote(dir string) string {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	m, ok := mountOf(dir, string(mi))
	if !ok || m.fstype != "ext4" {
		return ""
	}
	if journaled(m.dev, "/sys/dev/block", "/proc/fs/jbd2") {
		return ""
	}
	return fmt.Sprintf("note: the work folder %s is on an ext4 without a journal (%s, device %s): a file created within 1–5 min of many deletions there costs extra CPU, so the daemon's CPU here is overstated after another run; set TMPDIR to a journaled file system (docs/performance.md, Running the harness)",
		dir, m.point, m.dev)
}

type mount struct{ dev, point, fstype string }

// mountOf is the mount of /proc/self/mountinfo's text that holds dir: the
// one with the longest mount point above it.
func mountOf(dir, mountinfo string) (mount, bool) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	var best mount
	found := false
	for line := range strings.SplitSeq(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 1 {
			continue
		}
		point := unescapeMount(f[4])
		if !within(dir, point) || (found && len(point) < len(best.point)) {
			continue
		}
		best, found = mount{dev: f[2], point: point, fstype: g[0]}, true
	}
	return best, found
}

func within(dir, point string) bool {
	return point == "/" || dir == point || strings.HasPrefix(dir, point+"/")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// journaled reports whether the block device dev ("major:minor") has a
// jbd2 journal: /proc/fs/jbd2 lists one folder per journal, named after
// the device (as /sys/dev/block names it) and the journal's inode.
func journaled(dev, sysBlock, jbd2 string) bool {
	target, err := os.Readlink(filepath.Join(sysBlock, dev))
	if err != nil {
		return true // unknown: say nothing
	}
	matches, _ := filepath.Glob(filepath.Join(jbd2, filepath.Base(target)+"-*"))
	return len(matches) > 0
}
