package fsinfo

import (
	"fmt"

	"golang.org/x/sys/unix"
)

var linuxKinds = map[int64]struct {
	name    string
	network bool
}{
	0x6969:     {"nfs", true},
	0x517B:     {"smb", true},
	0xFF534D42: {"cifs", true},
	0xFE534D42: {"smb2", true},
	0x65735546: {"fuse", true},
	0x01021997: {"9p", true},
	0x00c36400: {"ceph", true},
	0x5346414F: {"afs", true},
	0x013111A8: {"ibrix", true},
	0x0BD00BD0: {"lustre", true},
	0x47504653: {"gpfs", true},
	0xEF53:     {"ext4", false},
	0x58465342: {"xfs", false},
	0x9123683E: {"btrfs", false},
	0x01021994: {"tmpfs", false},
	0x794C7630: {"overlayfs", false},
	0x2FC12FC1: {"zfs", false},
}

// Of returns the filesystem of path.
func Of(path string) (Info, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Info{}, err
	}
	k, ok := linuxKinds[int64(st.Type)]
	if !ok {
		return Info{Kind: fmt.Sprintf("0x%x", st.Type)}, nil
	}
	return Info{Kind: k.name, Network: k.network}, nil
}

// IsMappedDrive is only meaningful on Windows.
func IsMappedDrive(string) bool { return false }
