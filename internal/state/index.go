package state

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// The "open" bucket indexes the records that are not in a final state, so
// that recovery at start-up reads the work in progress, not every file ever
// seen. Keys are a one-letter kind and the record's key; values are the
// record's state, and for a file also its inbox and document key
// (state NUL inbox NUL parser:sha256), so a status report counts the files
// in flight from the index alone. putFile, putDoc and deleteFile keep it in
// step. A file value of an earlier version holds the state alone; readers
// then read the record.
const (
	prefixFile = "f/"
	prefixDoc  = "d/"
)

// FileFinal reports whether a file state ends the file's life.
func FileFinal(st FileState) bool {
	switch st {
	case FileDone, FileFailed, FileInvalid, FileGone:
		return true
	}
	return false
}

// DocFinal reports whether a document state ends the document's life.
func DocFinal(st DocState) bool { return st == DocDone || st == DocFailed }

func indexFile(tx *bolt.Tx, f File) error {
	if FileFinal(f.State) {
		return unindexFile(tx, f.Path)
	}
	open, k, v := tx.Bucket(bucketOpen), []byte(prefixFile+f.Path), openFileValue(f)
	if err := unwait(tx, f.Path, open.Get(k)); err != nil {
		return err
	}
	if err := open.Put(k, v); err != nil {
		return err
	}
	if wk := waitKey(v, f.Path); wk != nil {
		return tx.Bucket(bucketDocWait).Put(wk, []byte{})
	}
	return nil
}

// unindexFile removes path from the open index and from docwait.
func unindexFile(tx *bolt.Tx, path string) error {
	open, k := tx.Bucket(bucketOpen), []byte(prefixFile+path)
	if err := unwait(tx, path, open.Get(k)); err != nil {
		return err
	}
	return open.Delete(k)
}

// openFileValue is a file's value in the open index.
func openFileValue(f File) []byte {
	key := ""
	if f.SHA256 != "" {
		key = DocKey(f.ParserID, f.SHA256)
	}
	return []byte(string(f.State) + "\x00" + f.Inbox + "\x00" + key)
}

func indexDoc(tx *bolt.Tx, key string, st DocState) error {
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
	if err := each(tx, bucketFiles, func(f File) error { return indexFile(tx, f) }); err != nil {
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

// OpenFile is what the open index says of a file still on its way. Its
// strings point into the state's pages: they are valid only during the
// call that received them (strings.Clone what must outlive it).
type OpenFile struct {
	Path, Inbox string
	State       FileState
	// DocKey is the key of the file's document ("" before it was hashed);
	// DocState is that document's state when it is open too, "" when it is
	// final (done or failed: the file waits for its result to be written)
	// or has no record.
	DocKey   string
	DocState DocState
}

// EachOpenFile calls fn for every file not in a final state with what the
// open index holds of it and of its document, reading no file or document
// record (except for index entries written by an earlier version). It
// reads the index in two passes, each in order: the open documents' states
// first, kept by a 64-bit hash of their keys (a collision, about one in
// 10^9 for 100,000 open documents, would give a file another open
// document's state), then the files. Looking each file's document up
// instead read the index in random order: in a backlog of 100,000 files
// every lookup faulted in a page of its own, and the walk handed the
// mapped pages back every 32 files to stay within the budget; a status
// report then took up to a second. Both passes look at what is mapped as
// any pass over many records does (stride).
func (t *Tx) EachOpenFile(fn func(OpenFile) error) error {
	open := t.tx.Bucket(bucketOpen)
	if open == nil {
		return t.OpenFiles(func(f File) error { return fn(t.openFileOf(f)) })
	}
	docs := t.openDocStates(open)
	c := open.Cursor()
	p := []byte(prefixFile)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		t.stride()
		path := view(k[len(p):])
		var of OpenFile
		if st, rest, ok := bytes.Cut(v, []byte{0}); ok {
			inbox, key, _ := bytes.Cut(rest, []byte{0})
			of = OpenFile{Path: path, State: FileState(view(st)), Inbox: view(inbox), DocKey: view(key)}
			if len(key) > 0 {
				of.DocState = docs.of(key)
			}
		} else {
			f, err := t.indexedFile(path)
			if err != nil {
				return err
			}
			of = t.openFileOf(f)
		}
		if err := fn(of); err != nil {
			return err
		}
	}
	return nil
}

// docStates is the state of every open document, by a hash of its key: a
// few bytes a document, where the keys would take some 80.
type docStates struct {
	seed   maphash.Seed
	by     map[uint64]uint8 // index in states + 1
	states []DocState
}

// openDocStates reads the open documents' states from the open index, in
// order.
func (t *Tx) openDocStates(open *bolt.Bucket) docStates {
	d := docStates{seed: maphash.MakeSeed(), by: map[uint64]uint8{}}
	c := open.Cursor()
	p := []byte(prefixDoc)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		t.stride()
		st := DocState(view(v))
		i := slices.Index(d.states, st)
		if i < 0 {
			if len(d.states) == math.MaxUint8 {
				continue // not a state ppsync writes
			}
			d.states = append(d.states, st)
			i = len(d.states) - 1
		}
		d.by[maphash.Bytes(d.seed, k[len(p):])] = uint8(i + 1)
	}
	return d
}

// of is the state of the open document key, "" when it is not open.
func (d docStates) of(key []byte) DocState {
	if i := d.by[maphash.Bytes(d.seed, key)]; i > 0 {
		return d.states[i-1]
	}
	return ""
}

// indexedFile reads the record of a file the index of open files names in
// an entry of an earlier version (the state alone): an error when there is
// none.
func (t *Tx) indexedFile(path string) (File, error) {
	f, ok, err := get[File](t.tx, bucketFiles, path)
	if err == nil && !ok {
		err = fmt.Errorf("state index names file %s, which has no record: run 'ppsync state check'", path)
	}
	return f, err
}

// countCheckEvery is how many index entries CountOpenFiles reads between
// two looks at how much of the state is mapped: read in order, 512 entries
// lie on some fifteen leaf pages, under 1 MiB with the 64 KiB mapped
// around each.
const countCheckEvery = 512

// CountOpenFiles counts the files on their way (not final) in each inbox,
// in one pass over the index of open files: unlike EachOpenFile it looks up
// no document, so its reads follow the index in order and what it maps
// stays small however many files wait.
func (t *Tx) CountOpenFiles() (map[string]int, error) {
	counts := map[string]int{}
	open := t.tx.Bucket(bucketOpen)
	if open == nil {
		return counts, t.OpenFiles(func(f File) error { counts[f.Inbox]++; return nil })
	}
	n := 0
	c := open.Cursor()
	p := []byte(prefixFile)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if n++; n%countCheckEvery == 0 {
			t.releaseIfOver()
		}
		if _, rest, ok := bytes.Cut(v, []byte{0}); ok {
			inbox, _, _ := bytes.Cut(rest, []byte{0})
			counts[string(inbox)]++
			continue
		}
		f, err := t.indexedFile(string(k[len(p):]))
		if err != nil {
			return nil, err
		}
		counts[f.Inbox]++
	}
	return counts, nil
}

// OpenDocState is the state of f's document while that document is open
// (queued, batched or submitted), "" when it is final or f has none. It
// reads the open-records index, not the document's record.
func (t *Tx) OpenDocState(f File) DocState { return t.openFileOf(f).DocState }

// openFileOf builds an OpenFile from a record.
func (t *Tx) openFileOf(f File) OpenFile {
	of := OpenFile{Path: f.Path, State: f.State, Inbox: f.Inbox}
	if f.SHA256 != "" {
		of.DocKey = DocKey(f.ParserID, f.SHA256)
		if open := t.tx.Bucket(bucketOpen); open != nil {
			of.DocState = DocState(open.Get([]byte(prefixDoc + of.DocKey)))
		} else if d, ok, _ := t.Doc(of.DocKey); ok && !DocFinal(d.State) {
			of.DocState = d.State
		}
	}
	return of
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
func checkIndex(t *Tx) error {
	tx := t.tx
	open := tx.Bucket(bucketOpen)
	if err := each(tx, bucketFiles, func(f File) error {
		t.stride()
		v := open.Get([]byte(prefixFile + f.Path))
		if indexed := v != nil; indexed == FileFinal(f.State) {
			return fmt.Errorf("index of open records disagrees with file %s (%s)", f.Path, f.State)
		}
		// A value of an earlier version (the state alone) is still valid.
		if v != nil && bytes.IndexByte(v, 0) >= 0 && !bytes.Equal(v, openFileValue(f)) {
			return fmt.Errorf("index of open records holds %q for file %s, whose record says %q", v, f.Path, openFileValue(f))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := each(tx, bucketDocs, func(d Doc) error {
		t.stride()
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
			t.stride()
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

// view is b as a string without a copy, for as long as b's memory (a
// transaction's page) stays as it is.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
