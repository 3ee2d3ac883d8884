package watcher

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ppsync/ppsync/internal/winpath"
)

// WalkFunc is called by Walk for every file of an inbox that is one of its
// documents. When a folder or entry below the inbox cannot be read, it is
// called with that path, a nil entry and the error, and the walk goes on
// unless it returns an error.
type WalkFunc func(path string, d fs.DirEntry, err error) error

// Walk calls fn for every document in the inbox, by the same rules as the
// watcher's scans: subfolders only when recursive; dot-folders, excluded
// folders and ppsync's processed and failed folders pruned; symlinks and
// other non-regular files never followed; ppsync's own outputs and files
// the include and exclude globs rule out skipped. An inbox that cannot be
// read is an error.
func Walk(ctx context.Context, in Inbox, fn WalkFunc) error {
	return walk(ctx, in, NewFilter(in), in.Path, fn)
}

func walk(ctx context.Context, in Inbox, f *Filter, root string, fn WalkFunc) error {
	st, err := os.Stat(winpath.Sys(root))
	if err != nil {
		return fmt.Errorf("inbox %s: %w", root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("inbox %s is not a folder", root)
	}
	xroot := winpath.Extended(root) // names ending in a dot or a space, on Windows
	err = filepath.WalkDir(xroot, func(xp string, d fs.DirEntry, err error) error {
		p := winpath.Plain(xp)
		if err != nil {
			if xp == xroot {
				return err
			}
			return fn(p, nil, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if xp != xroot && (!in.Recursive || f.SkipDir(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !f.File(p) {
			return nil
		}
		return fn(p, d, nil)
	})
	if err != nil {
		return fmt.Errorf("inbox %s: %w", root, err)
	}
	return nil
}
