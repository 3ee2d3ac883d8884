// Package fsinfo tells what kind of filesystem a folder is on: network
// shares deliver no change events for files written by other machines,
// and Windows services cannot see mapped drive letters.
package fsinfo

// Info describes the filesystem holding a path.
type Info struct {
	// Network is true for SMB/CIFS, NFS, AFP, WebDAV, 9p, FUSE and other
	// remote or user-space filesystems.
	Network bool
	// Kind names the filesystem ("nfs", "cifs", "ext4"…) when known.
	Kind string
}
