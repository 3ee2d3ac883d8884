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
//
// An entry is stat'ed only when its stamp is needed: a name that is not
// one of the inbox's documents is not stat'ed unless it may be a folder to
// walk (recursive inboxes), and, when light is set, a document the watcher
// already knows (reported or settling) is visited by name alone (statted
// false, s zero): the listing shows it is still there, and check stats the
// settling ones anyway. On a share each stat is a round trip to the server,
// the listing itself one per few hundred entries. The listing's figures
// are added to cost.
func (w *Watcher) scanWalk(ctx context.Context, root string, light bool, cost *listingCost, visit func(p string, s stamp, statted bool), unreadable func(p string, err error)) error {
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
		cost.entries += len(names)
		for _, name := range names {
			buf = append(append(append(buf[:0], dir...), filepath.Separator), name...)
			p := unsafe.String(unsafe.SliceData(buf), len(buf))
			doc := w.filter.File(p)
			if !doc && !w.in.Recursive {
				continue // a result, a temp file, another kind of file: nothing to stat
			}
			if doc && light && (w.emitted.has(p) || w.cands.has(p)) {
				visit(p, stamp{}, false)
				continue
			}
			cost.stats++
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
			case kind == kindFile && doc:
				visit(p, s, true)
			}
		}
		if len(dirs) == 0 {
			return nil
		}
		dir, dirs = dirs[len(dirs)-1], dirs[:len(dirs)-1]
	}
}

// listingCost is what one listing of an inbox cost: entries read from its
// folders and entries stat'ed.
type listingCost struct {
	entries, stats int
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
