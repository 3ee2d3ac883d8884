package state

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The files of a document are records of their own, not a list in the
// document's record: a content copied four thousand times would otherwise
// rewrite a growing list with every copy (and walk it), so the cost of a
// copy would grow with the number of copies before it.
//
// The "docfiles" bucket holds one key per (document, file): the document
// key, NUL, the file's path (its bytes, as in the files bucket), with an
// empty value. It lists every file attached to the document, waiting or
// finished (a finished file's result is where a later copy reads the
// result back).
//
// The "docwait" bucket has the same keys for the files still waiting (not
// in a final state) that name the document by their content: it is the
// open index (index.go) keyed by document, kept in step by putFile and
// deleteFile, so "does a file still wait on this document" is one seek.
var (
	bucketDocFiles = []byte("docfiles")
	bucketDocWait  = []byte("docwait")
)

// docFileKey is the key of path under document key.
func docFileKey(key, path string) []byte {
	b := make([]byte, 0, len(key)+1+len(path))
	b = append(b, key...)
	b = append(b, 0)
	return append(b, path...)
}

func docPrefix(key string) []byte { return append([]byte(key), 0) }

// Attach records path as a file of document d (putDoc does it for the
// paths in d.Files). It reports whether path was not attached yet. The
// first file attached becomes d.First; the caller writes d.
func (t *Tx) Attach(d *Doc, path string) (bool, error) {
	t.ops++
	b := t.tx.Bucket(bucketDocFiles)
	k := docFileKey(d.Key, path)
	if d.First == "" {
		d.First = path
	}
	if b.Get(k) != nil {
		return false, nil
	}
	t.bytes += len(k)
	return true, b.Put(k, []byte{})
}

// Detach removes path from the files of document d. When path was d.First,
// the next attached file (in path order) takes its place, or "" when none
// is left. The caller writes d.
func (t *Tx) Detach(d *Doc, path string) error {
	t.ops++
	if err := t.tx.Bucket(bucketDocFiles).Delete(docFileKey(d.Key, path)); err != nil {
		return err
	}
	if d.First == path {
		d.First, _ = t.FirstFile(d.Key)
	}
	return nil
}

// Attached reports whether path is a file of document key.
func (t *Tx) Attached(key, path string) bool {
	t.ops++
	if b := t.tx.Bucket(bucketDocFiles); b != nil {
		return b.Get(docFileKey(key, path)) != nil
	}
	found := false
	_ = t.legacyFiles(key, func(p string) error {
		found = found || p == path
		return nil
	})
	return found
}

// FirstFile returns the first file of document key in path order.
func (t *Tx) FirstFile(key string) (string, bool) {
	var first string
	found := false
	_ = t.DocFiles(key, func(p string) error {
		first, found = p, true
		return errStop
	})
	return first, found
}

// OtherFile reports whether a file other than path is attached to key.
func (t *Tx) OtherFile(key, path string) bool {
	found := false
	_ = t.DocFiles(key, func(p string) error {
		if p != path {
			found = true
			return errStop
		}
		return nil
	})
	return found
}

// errStop ends an iteration early.
var errStop = fmt.Errorf("stop")

// DocFiles calls fn for every file attached to document key, in path
// order; an error from fn ends the walk (errStop quietly).
func (t *Tx) DocFiles(key string, fn func(path string) error) error {
	b := t.tx.Bucket(bucketDocFiles)
	if b == nil {
		return t.legacyFiles(key, fn)
	}
	return eachUnder(t, b, docPrefix(key), fn)
}

// WaitingFiles calls fn for every file not in a final state whose content
// is document key's (see docwait), in path order.
func (t *Tx) WaitingFiles(key string, fn func(path string) error) error {
	b := t.tx.Bucket(bucketDocWait)
	if b == nil {
		return t.legacyFiles(key, func(p string) error {
			if f, ok, err := t.File(p); err != nil || !ok || FileFinal(f.State) || f.SHA256 == "" || DocKey(f.ParserID, f.SHA256) != key {
				return err
			}
			return fn(p)
		})
	}
	return eachUnder(t, b, docPrefix(key), fn)
}

// AnyWaiting reports whether a file not in a final state has document
// key's content.
func (t *Tx) AnyWaiting(key string) bool {
	found := false
	_ = t.WaitingFiles(key, func(string) error { found = true; return errStop })
	return found
}

func eachUnder(t *Tx, b *bolt.Bucket, prefix []byte, fn func(path string) error) error {
	c := b.Cursor()
	if t != nil {
		t.ops++ // the seek maps a leaf, whether or not it finds one
	}
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if t != nil {
			t.ops++ // counted, not released: the cursor holds its page
		}
		if err := fn(string(k[len(prefix):])); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// legacyFiles walks the "files" list of a document written before schema
// 4 (a store of an older schema opened read-only).
func (t *Tx) legacyFiles(key string, fn func(path string) error) error {
	raw := t.tx.Bucket(bucketDocs).Get([]byte(key))
	if raw == nil {
		return nil
	}
	files, err := legacyList(raw)
	if err != nil {
		return fmt.Errorf("state record %s/%s: %w", bucketDocs, key, err)
	}
	for _, p := range files {
		if err := fn(p); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// legacyList decodes the "files" list of a document record of schema 3
// or earlier.
func legacyList(raw []byte) ([]string, error) {
	var old struct {
		Files []string `json:"files"`
	}
	if err := json.Unmarshal(raw, &old); err != nil {
		return nil, err
	}
	return old.Files, decodeNames(old.Files)
}

// waitKey is the docwait key of an open-index value (state NUL inbox NUL
// document key) for path, or nil when the value names no document.
func waitKey(v []byte, path string) []byte {
	_, rest, ok := bytes.Cut(v, []byte{0})
	if !ok {
		return nil
	}
	_, key, _ := bytes.Cut(rest, []byte{0})
	if len(key) == 0 {
		return nil
	}
	return docFileKey(string(key), path)
}

// unwait removes path's docwait entry as its open-index value v names it.
func unwait(tx *bolt.Tx, path string, v []byte) error {
	if k := waitKey(v, path); k != nil {
		return tx.Bucket(bucketDocWait).Delete(k)
	}
	return nil
}

// dropDocFiles deletes every docfiles entry of document key (the document
// itself is dropped).
func dropDocFiles(tx *bolt.Tx, key string) error {
	b := tx.Bucket(bucketDocFiles)
	p := docPrefix(key)
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// splitDocFiles is the migration from schema 3: every document's "files"
// list becomes docfiles records (its first file stays as the document's
// First) and the document is written without it; the docwait index is
// built from the open files.
func splitDocFiles(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketDocFiles, bucketDocWait} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	type moved struct {
		key []byte
		val []byte
	}
	var rewrite []moved
	files := tx.Bucket(bucketDocFiles)
	err := tx.Bucket(bucketDocs).ForEach(func(k, v []byte) error {
		list, err := legacyList(v)
		if err != nil {
			return fmt.Errorf("state record %s/%s: %w", bucketDocs, k, err)
		}
		if !bytes.Contains(v, []byte(`"files"`)) {
			return nil
		}
		var d Doc
		if err := decode(v, &d); err != nil {
			return fmt.Errorf("state record %s/%s: %w", bucketDocs, k, err)
		}
		for _, p := range list {
			if d.First == "" {
				d.First = p
			}
			if err := files.Put(docFileKey(string(k), p), []byte{}); err != nil {
				return err
			}
		}
		b, err := encode(d)
		if err != nil {
			return err
		}
		rewrite = append(rewrite, moved{append([]byte(nil), k...), b})
		return nil
	})
	if err != nil {
		return err
	}
	docs := tx.Bucket(bucketDocs)
	for _, m := range rewrite {
		if err := docs.Put(m.key, m.val); err != nil {
			return err
		}
	}
	// The open index again, every value in the form that names the
	// document, with its docwait entry.
	var open []File
	if err := eachOpen(tx, prefixFile, func(k []byte) error {
		f, ok, err := get[File](tx, bucketFiles, string(k))
		if err != nil || !ok {
			return err
		}
		open = append(open, f)
		return nil
	}); err != nil {
		return err
	}
	for _, f := range open {
		if err := indexFile(tx, f); err != nil {
			return err
		}
	}
	return nil
}

// checkDocWait reports the first docwait entry that disagrees with the
// open index, and the first open file missing from docwait.
func checkDocWait(t *Tx) error {
	tx := t.tx
	wait := tx.Bucket(bucketDocWait)
	if wait == nil {
		return nil
	}
	if err := wait.ForEach(func(k, _ []byte) error {
		t.stride()
		key, path, _ := bytes.Cut(k, []byte{0})
		v := tx.Bucket(bucketOpen).Get([]byte(prefixFile + string(path)))
		if v != nil && bytes.IndexByte(v, 0) < 0 {
			return nil // a value of an earlier version (the state alone) names no document
		}
		if !bytes.Equal(waitKey(v, string(path)), k) {
			return fmt.Errorf("index of waiting files names %s for document %s, which the open index does not", path, key)
		}
		return nil
	}); err != nil {
		return err
	}
	return eachOpen(tx, prefixFile, func(path []byte) error {
		t.stride()
		v := tx.Bucket(bucketOpen).Get([]byte(prefixFile + string(path)))
		if k := waitKey(v, string(path)); k != nil && wait.Get(k) == nil {
			return fmt.Errorf("index of waiting files lacks file %s", path)
		}
		return nil
	})
}

// DetachAll removes every file of document d (it starts a new life: sent
// again after a retry) and clears d.First. The caller writes d.
func (t *Tx) DetachAll(d *Doc) error {
	d.First = ""
	return dropDocFiles(t.tx, d.Key)
}

// WaitingOn lists the files attached to document key that are still
// waiting (not in a final state) and have its content, in path order,
// reading the index of waiting files rather than every attached file.
// It is a list, so the caller may write while going through it.
func (t *Tx) WaitingOn(key string) ([]string, error) {
	var out []string
	err := t.WaitingFiles(key, func(p string) error {
		if t.Attached(key, p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// AnyWaitingOn reports whether a file attached to document key is still
// waiting and has its content.
func (t *Tx) AnyWaitingOn(key string) bool {
	found := false
	_ = t.WaitingFiles(key, func(p string) error {
		if t.Attached(key, p) {
			found = true
			return errStop
		}
		return nil
	})
	return found
}

// DocFilesAfter calls fn for up to n files of document key that come
// after the file after in path order ("" for the first), so a caller may
// go through a document's files in short transactions.
func (t *Tx) DocFilesAfter(key, after string, n int, fn func(path string) error) error {
	if n <= 0 {
		return nil
	}
	b := t.tx.Bucket(bucketDocFiles)
	if b == nil {
		seen := after == ""
		return t.legacyFiles(key, func(p string) error {
			if !seen {
				seen = p == after
				return nil
			}
			if n--; n < 0 {
				return errStop
			}
			return fn(p)
		})
	}
	prefix := docPrefix(key)
	c := b.Cursor()
	t.ops++ // the seek maps a leaf, whether or not it finds one
	k, _ := c.Seek(append(prefix, after...))
	if after != "" && k != nil && string(k[len(prefix):]) == after {
		k, _ = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && n > 0; k, _ = c.Next() {
		n--
		t.ops++
		if err := fn(string(k[len(prefix):])); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}
