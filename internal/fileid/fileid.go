// Package fileid tells whether a file is still the one ppsync handled when
// its size and mtime say nothing changed: a file overwritten in place,
// renamed over, or replaced while ppsync was stopped may keep both, and its
// old result would then describe another document.
//
// Where the filesystem can be trusted, the watcher's identity (inode and
// ctime) tells (watcher.Event.Identity); elsewhere (Windows, network
// filesystems) a fingerprint of the content does: a hash of its size and
// of its first and last 64 KiB, read without reading the whole file.
package fileid

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/ppsync/ppsync/internal/winpath"
)

// span is how much of each end of a file the fingerprint reads.
const span = 64 << 10

// Fingerprint returns the fingerprint of the file at path: the sha256 of
// its size and of its first and last 64 KiB (all of it when smaller), as
// 32 hex digits.
func Fingerprint(path string) (string, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", path, err)
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, st.Size())
	if _, err := io.Copy(h, io.LimitReader(f, span)); err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", path, err)
	}
	if tail := max(st.Size()-span, span); tail < st.Size() {
		if _, err := io.Copy(h, io.NewSectionReader(f, tail, st.Size()-tail)); err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// Same reports whether the file at path, whose size and mtime match what
// was recorded, is still the file recorded: recorded and current are
// identities (watcher.Event.Identity, "" when unknown), fingerprint the
// recorded fingerprint ("" when none). Identities decide when both are
// known; otherwise the fingerprint, read again now; with neither, size and
// mtime stand (a record from before identities were kept).
func Same(path, recorded, current, fingerprint string) bool {
	if recorded != "" && current != "" {
		return recorded == current
	}
	if fingerprint == "" {
		return true
	}
	now, err := Fingerprint(path)
	return err != nil || now == fingerprint // unreadable: the hash that follows would fail too
}
