// Package safeopen opens files that others can write to: a source file in
// an inbox, a ledger in a shared folder. Any name there may be replaced by
// a link to a secret (the environment, the state file, /etc/shadow) at any
// moment, so a file is opened below its folder only, never through a link,
// and checked to be the file that was looked at.
package safeopen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrLink means the file, or a folder on the way to it below its root, is a
// link or not a regular file, or was swapped while it was opened: it is not
// opened.
var ErrLink = errors.New("reached through a link or not a regular file")

// ErrOutside means the path is not inside the folder it must be below.
var ErrOutside = errors.New("not inside its folder")

// OpenBelow opens path for reading, which must be inside dir. It is opened
// below dir only (os.Root), and refused (ErrLink) when it or a folder
// between dir and it is a link, when it is not a regular file, or when it
// was swapped between the look and the open. dir itself may be a link (an
// administrator's choice). A missing file gives an error matching
// fs.ErrNotExist. The caller closes the file.
func OpenBelow(dir, path string) (*os.File, error) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s is not inside %s: %w", path, dir, ErrOutside)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open folder %s: %w", dir, err)
	}
	defer root.Close()
	parts := strings.Split(rel, string(filepath.Separator))
	var byName fs.FileInfo
	for i := range parts {
		fi, err := root.Lstat(filepath.Join(parts[:i+1]...))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		last := i == len(parts)-1
		if fi.Mode()&fs.ModeSymlink != 0 || !last && !fi.IsDir() || last && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is %w, so it is not opened (remove the link)", path, ErrLink)
		}
		byName = fi
	}
	file, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	opened, err := file.Stat()
	if err != nil || !opened.Mode().IsRegular() || !os.SameFile(byName, opened) {
		file.Close()
		return nil, fmt.Errorf("%s was replaced while it was being opened, so it is not opened: %w", path, ErrLink)
	}
	return file, nil
}
