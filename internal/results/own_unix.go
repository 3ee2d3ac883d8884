//go:build unix

package results

import (
	"io/fs"
	"syscall"
)

// openFlags keep an open from blocking on a named pipe swapped in after
// the look by name (the check after the open then refuses it).
const openFlags = syscall.O_NONBLOCK

// links is the number of hard links of the file fi describes.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink) //nolint:unconvert // uint16 on darwin
	}
	return 1
}
