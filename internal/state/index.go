package state

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The "open" bucket indexes the records that are not in a final state, so
// that recovery at start-up reads the work in progress, not every file ever
// seen. Keys are a one-letter kind and the record's key; values are the
// record's state. PutFile, PutDoc and DeleteFile keep it in step.
const (
	prefixFile = "f/"
	prefixDoc  = "d/"
)

// FileFinal reports whether a file state ends the file's life.
func FileFinal(st string) bool {
	switch st {
	case FileDone, FileFailed, FileInvalid, FileGone:
		return true
	}
	return false
}

// DocFinal reports whether a document state ends the document's life.
func DocFinal(st string) bool { return st == DocDone || st == DocFailed }

func indexFile(tx *bolt.Tx, path, st string) error {
	if FileFinal(st) {
		return unindex(tx, prefixFile, path)
	}
	return tx.Bucket(bucketOpen).Put([]byte(prefixFile+path), []byte(st))
}

func indexDoc(tx *bolt.Tx, key, st string) error {
	if DocFinal(st) {
		return unindex(tx, prefixDoc, key)
	}
	return tx.Bucket(bucketOpen).Put([]byte(prefixDoc+key), []byte(st))
}

func unindex(tx *bolt.Tx, prefix, key string) error {
	return tx.Bucket(bucketOpen).Delete([]byte(prefix + key))
}

// buildOpenIndex is the migration from schema 1: it creates the index from
// every file and document record.
func buildOpenIndex(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketOpen); err != nil {
		return err
	}
	if err := each(tx, bucketFiles, func(f File) error { return indexFile(tx, f.Path, f.State) }); err != nil {
		return err
	}
	return each(tx, bucketDocs, func(d Doc) error { return indexDoc(tx, d.Key, d.State) })
}

// eachOpen calls fn with the key of every indexed record of one kind.
func eachOpen(tx *bolt.Tx, prefix string, fn func(key []byte) error) error {
	c := tx.Bucket(bucketOpen).Cursor()
	p := []byte(prefix)
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if err := fn(k[len(p):]); err != nil {
			return err
		}
	}
	return nil
}

// OpenFiles calls fn for every file not in a final state (queued, or a
// duplicate waiting for its document), reading only those records. A store
// of schema 1 opened read-only has no index: its records are searched.
func (t *Tx) OpenFiles(fn func(File) error) error {
	if t.tx.Bucket(bucketOpen) == nil {
		return t.Files(func(f File) error {
			if FileFinal(f.State) {
				return nil
			}
			return fn(f)
		})
	}
	return eachOpen(t.tx, prefixFile, func(k []byte) error {
		f, ok, err := get[File](t.tx, bucketFiles, string(k))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("state index names file %s, which has no record: run 'ppsync state check'", k)
		}
		return fn(f)
	})
}

// OpenDocs calls fn for every document not in a final state (queued,
// batched or submitted), reading only those records.
func (t *Tx) OpenDocs(fn func(Doc) error) error {
	return eachOpen(t.tx, prefixDoc, func(k []byte) error {
		d, ok, err := get[Doc](t.tx, bucketDocs, string(k))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("state index names document %s, which has no record: run 'ppsync state check'", k)
		}
		return fn(d)
	})
}

// checkIndex reports the first disagreement between the records and the
// index of open records.
func checkIndex(tx *bolt.Tx) error {
	open := tx.Bucket(bucketOpen)
	if err := each(tx, bucketFiles, func(f File) error {
		if indexed := open.Get([]byte(prefixFile+f.Path)) != nil; indexed == FileFinal(f.State) {
			return fmt.Errorf("index of open records disagrees with file %s (%s)", f.Path, f.State)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := each(tx, bucketDocs, func(d Doc) error {
		if indexed := open.Get([]byte(prefixDoc+d.Key)) != nil; indexed == DocFinal(d.State) {
			return fmt.Errorf("index of open records disagrees with document %s (%s)", d.Key, d.State)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, p := range []struct {
		prefix string
		bucket []byte
	}{{prefixFile, bucketFiles}, {prefixDoc, bucketDocs}} {
		if err := eachOpen(tx, p.prefix, func(k []byte) error {
			if tx.Bucket(p.bucket).Get(k) == nil {
				return fmt.Errorf("index of open records names %s%s, which has no record", p.prefix, k)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// FileOpen reports whether the file record at path is still on its way (in
// a state that is not final), from the open-records index alone: it reads
// neither the record nor its page.
func (t *Tx) FileOpen(path string) bool {
	return t.tx.Bucket(bucketOpen).Get([]byte(prefixFile+path)) != nil
}
