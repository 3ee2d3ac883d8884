package watcher

import (
	"io/fs"
	"syscall"
)

// identityOf is the identity of the file fi describes (see identity).
func identityOf(fi fs.FileInfo) uint64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	return identity(st.Ino, st.Ctimespec.Sec*1e9+st.Ctimespec.Nsec)
}
