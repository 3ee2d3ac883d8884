package watcher

import "strings"

// FreezeIdentity makes the watcher see every file's identity (inode and
// ctime) as it was when it first looked, size and mtime as they are: a
// change of mtime alone, which a local filesystem never shows without a
// new ctime. Call it before Run.
func (w *Watcher) FreezeIdentity() {
	frozen := map[string]uint64{} // only Run's goroutine stats
	w.lstat = func(p string) (stamp, fileKind, error) {
		s, k, err := lstatPath(p)
		if err != nil || k != kindFile {
			return s, k, err
		}
		if id, ok := frozen[p]; ok {
			s.id = id
		} else {
			frozen[strings.Clone(p)] = s.id
		}
		return s, k, nil
	}
}
