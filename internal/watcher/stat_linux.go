package watcher

import (
	"io/fs"
	"syscall"
	"time"
)

// lstatPath is os.Lstat without the FileInfo: the stamp (size, mtime in
// unix nanoseconds, identity) and kind of the entry at p, symlinks not
// followed.
func lstatPath(p string) (s stamp, kind fileKind, err error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return stamp{}, kindOther, &fs.PathError{Op: "lstat", Path: string([]byte(p)), Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		kind = kindFile
	case syscall.S_IFDIR:
		kind = kindDir
	}
	return stamp{size: st.Size, mtime: int64(st.Mtim.Sec)*1e9 + int64(st.Mtim.Nsec),
		id: identity(st.Ino, int64(st.Ctim.Sec)*1e9+int64(st.Ctim.Nsec))}, kind, nil
}

// changeTime is p's ctime: when its content or metadata last changed,
// which no copy can set back.
func changeTime(p string) (time.Time, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)), true
}
