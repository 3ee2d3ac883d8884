package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ppsync/ppsync/internal/winpath"
)

// fileKind is what a scan needs to know about a directory entry.
type fileKind uint8

const (
	kindOther fileKind = iota // symlinks, devices, sockets: never followed
	kindFile
	kindDir
)

// scanWalk walks root by the rules of walk (subfolders only when
// recursive, pruned folders skipped, symlinks never followed, only the
// inbox's documents visited), built for rescans of large inboxes: one
// reusable path buffer, names read without a DirEntry each, one lstat per
// entry. For an unchanged file it allocates only the name the directory
// read returns and the system call's copy of the path.
//
// visit gets a path that is valid only during the call (it points into
// the buffer): callers that keep it must copy it (strings.Clone). A folder
// or file below root that cannot be read is handed to unreadable (with a
// path of its own) and skipped; root itself must be a readable folder.
func (w *Watcher) scanWalk(ctx context.Context, root string, visit func(p string, s stamp), unreadable func(p string, err error)) error {
	st, err := os.Stat(winpath.Sys(root))
	if err != nil {
		return fmt.Errorf("inbox %s: %w", root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("inbox %s is not a folder", root)
	}
	buf := make([]byte, 0, 512)
	var dirs []string
	dir := filepath.Clean(root)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("inbox %s: %w", root, err)
		}
		names, err := readNames(dir)
		if err != nil {
			if dir == filepath.Clean(root) {
				return fmt.Errorf("inbox %s: %w", root, err)
			}
			unreadable(dir, err)
		}
		for _, name := range names {
			buf = append(append(append(buf[:0], dir...), filepath.Separator), name...)
			p := unsafe.String(unsafe.SliceData(buf), len(buf))
			s, kind, err := w.lstat(p)
			switch {
			case err != nil:
				if !errors.Is(err, os.ErrNotExist) {
					unreadable(strings.Clone(p), err)
				}
			case kind == kindDir:
				if w.in.Recursive && !w.filter.SkipDir(p) {
					dirs = append(dirs, strings.Clone(p))
				}
			case kind == kindFile && w.filter.File(p):
				visit(p, s)
			}
		}
		if len(dirs) == 0 {
			return nil
		}
		dir, dirs = dirs[len(dirs)-1], dirs[:len(dirs)-1]
	}
}

// readNames lists a folder's entries by name.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(winpath.Sys(dir))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return names, err
	}
	return names, nil
}
