package fsinfo

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// Of returns the filesystem of path.
func Of(path string) (Info, error) {
	if strings.HasPrefix(path, `\\`) {
		return Info{Kind: "unc", Network: true}, nil
	}
	root := filepath.VolumeName(path) + `\`
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return Info{}, err
	}
	switch windows.GetDriveType(p) {
	case windows.DRIVE_REMOTE:
		return Info{Kind: "mapped network drive", Network: true}, nil
	case windows.DRIVE_REMOVABLE:
		return Info{Kind: "removable"}, nil
	}
	return Info{Kind: "local"}, nil
}

// IsMappedDrive reports a drive letter that maps a network share: invisible
// to a Windows service, which must use the UNC path instead.
func IsMappedDrive(path string) bool {
	if strings.HasPrefix(path, `\\`) || filepath.VolumeName(path) == "" {
		return false
	}
	p, err := windows.UTF16PtrFromString(filepath.VolumeName(path) + `\`)
	if err != nil {
		return false
	}
	t := windows.GetDriveType(p)
	return t == windows.DRIVE_REMOTE || t == windows.DRIVE_NO_ROOT_DIR
}
