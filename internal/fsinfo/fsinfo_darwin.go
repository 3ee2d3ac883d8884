package fsinfo

import (
	"golang.org/x/sys/unix"
)

var darwinNetwork = map[string]bool{"smbfs": true, "nfs": true, "afpfs": true, "webdav": true, "osxfuse": true, "macfuse": true, "cifs": true}

// Of returns the filesystem of path.
func Of(path string) (Info, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Info{}, err
	}
	b := st.Fstypename[:]
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	name := make([]byte, n)
	for i := range n {
		name[i] = byte(b[i])
	}
	return Info{Kind: string(name), Network: darwinNetwork[string(name)]}, nil
}

// IsMappedDrive is only meaningful on Windows.
func IsMappedDrive(string) bool { return false }
