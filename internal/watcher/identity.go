package watcher

import "strconv"

// identity hashes a file's inode and ctime into one number (0 is kept for
// "unknown"): a file renamed over another has another inode, and one
// rewritten in place, even with its size and mtime put back, a new ctime.
func identity(ino uint64, ctime int64) uint64 {
	h := uint64(14695981039346656037) // FNV-1a over the 16 bytes
	for _, v := range [2]uint64{ino, uint64(ctime)} {
		for i := range 8 {
			h ^= (v >> (8 * i)) & 0xff
			h *= 1099511628211
		}
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Inode and ctime tell a file's lives apart except on a network
// filesystem (a CIFS mount may make inode numbers up, and another
// machine's writes may leave ctime alone) or one that cannot be told:
// New sets trustID from the inbox's fsinfo.

// identity is the Identity of an event for a file with stamp s: "" where
// the filesystem's identities are not to be trusted.
func (w *Watcher) identity(s stamp) string {
	if !w.trustID || s.id == 0 {
		return ""
	}
	return strconv.FormatUint(s.id, 16)
}

// IdentityOf is the Identity a Ready event gives a file with this inode and
// ctime (unix nanoseconds), for checks that compare a file opened later.
func IdentityOf(ino uint64, ctime int64) string { return strconv.FormatUint(identity(ino, ctime), 16) }
