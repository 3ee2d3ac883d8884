package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The "tally" bucket counts the file records per inbox and state, and the
// "errs" bucket indexes the records that ended without a result (failed,
// invalid, gone) per inbox by time, so that a status report reads a few
// counters and the records it shows instead of every record. putFile and
// deleteFile keep both in step with the records, from the fields of the
// record they replace.
//
// Tally keys are the inbox's bytes, NUL, the state, and NUL "moved" for
// the count of records whose file was moved away after its result; values
// are 8-byte big-endian counts, and a count that drops to zero is removed.
// Error keys are the inbox's bytes, NUL, the record's Updated time (see
// timeKey) and the file's path; values are the record's state. Names are
// the raw bytes of the path, as in the files bucket: a path never holds
// NUL, so the inbox prefix is unambiguous.
var (
	bucketTally = []byte("tally")
	bucketErrs  = []byte("errs")
)

const movedSuffix = "\x00moved"

// FileWithoutResult reports whether a file state is the end of a file's life
// without a result (failed, refused locally, or deleted first).
func FileWithoutResult(st FileState) bool {
	return st == FileFailed || st == FileInvalid || st == FileGone
}

// tallied are the parts of a file record the tally and the error index
// depend on: decoding only these keeps a write from decoding whole records.
type tallied struct {
	Inbox   string    `json:"inbox"`
	State   FileState `json:"state"`
	MovedTo string    `json:"moved_to"`
	Updated time.Time `json:"updated"`
}

func talliedOf(f File) tallied {
	return tallied{Inbox: f.Inbox, State: f.State, MovedTo: f.MovedTo, Updated: f.Updated}
}

// decodeTallied reads the tallied fields of the stored record at key.
func decodeTallied(key, raw []byte) (tallied, error) {
	var t tallied
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("state record files/%s: %w", key, err)
	}
	inbox, err := decodeName(t.Inbox)
	if err != nil {
		return t, fmt.Errorf("state record files/%s: %w", key, err)
	}
	t.Inbox = inbox
	return t, nil
}

func inboxPrefix(inbox string) []byte { return append([]byte(inbox), 0) }

func tallyKey(inbox string, st FileState, moved bool) []byte {
	k := append(inboxPrefix(inbox), st...)
	if moved {
		k = append(k, movedSuffix...)
	}
	return k
}

// timeKey orders times as time.Time.Compare does, for every time a
// time.Time holds (UnixNano would overflow outside 1678–2262, and the
// zero time is outside).
func timeKey(t time.Time) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return k
}

func errKey(inbox string, at time.Time, path string) []byte {
	k := append(inboxPrefix(inbox), timeKey(at)...)
	return append(k, path...)
}

// tallyFile counts (delta 1) or uncounts (delta -1) the record at path.
func tallyFile(tx *bolt.Tx, path string, t tallied, delta int64) error {
	b := tx.Bucket(bucketTally)
	if err := addCount(b, tallyKey(t.Inbox, t.State, false), delta); err != nil {
		return err
	}
	if t.MovedTo != "" {
		if err := addCount(b, tallyKey(t.Inbox, t.State, true), delta); err != nil {
			return err
		}
	}
	if !FileWithoutResult(t.State) {
		return nil
	}
	k := errKey(t.Inbox, t.Updated, path)
	if delta > 0 {
		return tx.Bucket(bucketErrs).Put(k, []byte(t.State))
	}
	return tx.Bucket(bucketErrs).Delete(k)
}

// retally moves the record at path from its stored fields (if any) to
// next (nil when the record is deleted). It returns the state the stored
// record had ("" when there was none).
func retally(tx *bolt.Tx, path string, next *tallied) (FileState, error) {
	var was FileState
	if raw := tx.Bucket(bucketFiles).Get([]byte(path)); raw != nil {
		old, err := decodeTallied([]byte(path), raw)
		if err != nil {
			return "", err
		}
		was = old.State
		if next != nil && sameTally(*next, old) {
			return was, nil
		}
		if err := tallyFile(tx, path, old, -1); err != nil {
			return "", err
		}
	}
	if next == nil {
		return was, nil
	}
	return was, tallyFile(tx, path, *next, 1)
}

func sameTally(a, b tallied) bool {
	return a.Inbox == b.Inbox && a.State == b.State && (a.MovedTo == "") == (b.MovedTo == "") &&
		(!FileWithoutResult(a.State) || a.Updated.Equal(b.Updated))
}

func addCount(b *bolt.Bucket, key []byte, delta int64) error {
	n, err := count(key, b.Get(key))
	if err != nil {
		return err
	}
	// A count below zero is damage the write cannot repair; it stays at
	// zero and 'ppsync state check' reports the disagreement.
	if n += delta; n <= 0 {
		return b.Delete(key)
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(n))
	return b.Put(key, v)
}

func count(key, v []byte) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("state tally %q holds %d bytes, not 8: run 'ppsync state check'", key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// derived is the tally and the error index as the records say they are.
type derived struct {
	tally map[string]int64
	errs  map[string]string
}

func derive(tx *Tx) (derived, error) {
	d := derived{tally: map[string]int64{}, errs: map[string]string{}}
	err := tx.tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
		tx.stride()
		t, err := decodeTallied(k, v)
		if err != nil {
			return err
		}
		d.tally[string(tallyKey(t.Inbox, t.State, false))]++
		if t.MovedTo != "" {
			d.tally[string(tallyKey(t.Inbox, t.State, true))]++
		}
		if FileWithoutResult(t.State) {
			d.errs[string(errKey(t.Inbox, t.Updated, string(k)))] = string(t.State)
		}
		return nil
	})
	return d, err
}

// buildTally is the migration from schema 2: it creates the tally and the
// error index from one pass over the file records.
func buildTally(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketTally, bucketErrs} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	d, err := derive(&Tx{tx: tx})
	if err != nil {
		return err
	}
	// Keys in order fill bbolt's pages instead of splitting them.
	tally, errs := tx.Bucket(bucketTally), tx.Bucket(bucketErrs)
	for _, k := range slices.Sorted(maps.Keys(d.tally)) {
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, uint64(d.tally[k]))
		if err := tally.Put([]byte(k), v); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.errs)) {
		if err := errs.Put([]byte(k), []byte(d.errs[k])); err != nil {
			return err
		}
	}
	return nil
}

// checkTally reports the first disagreement between the records and the
// tally or the error index.
func checkTally(t *Tx) error {
	tx := t.tx
	tally, errs := tx.Bucket(bucketTally), tx.Bucket(bucketErrs)
	if tally == nil || errs == nil {
		return fmt.Errorf("the tally of file records is missing")
	}
	d, err := derive(t)
	if err != nil {
		return err
	}
	if err := tally.ForEach(func(k, v []byte) error {
		n, err := count(k, v)
		if err != nil {
			return err
		}
		if want := d.tally[string(k)]; n != want {
			return fmt.Errorf("tally of file records counts %d for %s, the records %d", n, describeTallyKey(k), want)
		}
		delete(d.tally, string(k))
		return nil
	}); err != nil {
		return err
	}
	for k, n := range d.tally {
		return fmt.Errorf("tally of file records counts 0 for %s, the records %d", describeTallyKey([]byte(k)), n)
	}
	if err := errs.ForEach(func(k, v []byte) error {
		want, ok := d.errs[string(k)]
		if !ok || want != string(v) {
			return fmt.Errorf("index of failed files names %s (%s), which has no such record", errKeyPath(k), v)
		}
		delete(d.errs, string(k))
		return nil
	}); err != nil {
		return err
	}
	for k, st := range d.errs {
		return fmt.Errorf("index of failed files lacks file %s (%s)", errKeyPath([]byte(k)), st)
	}
	return nil
}

func describeTallyKey(k []byte) string {
	inbox, st, _ := strings.Cut(string(k), "\x00")
	if s, moved := strings.CutSuffix(st, movedSuffix); moved {
		return fmt.Sprintf("inbox %s, state %s, moved", inbox, s)
	}
	return fmt.Sprintf("inbox %s, state %s", inbox, st)
}

func errKeyPath(k []byte) string {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+12 {
		return fmt.Sprintf("%q", k)
	}
	return string(k[i+1+12:])
}

// Tally counts one inbox's file records.
type Tally struct {
	// Files counts the records by state.
	Files map[FileState]int
	// Moved counts, by state, the records whose file was moved away after
	// its result (after = "move"); they are also in Files.
	Moved map[FileState]int
}

// Tally returns the counts of inbox's file records, reading counters
// rather than records. A store of an older schema opened read-only has no
// tally: its records are counted instead.
func (t *Tx) Tally(inbox string) (Tally, error) {
	r := Tally{Files: map[FileState]int{}, Moved: map[FileState]int{}}
	b := t.tx.Bucket(bucketTally)
	if b == nil {
		err := t.Files(func(f File) error {
			if f.Inbox == inbox {
				r.Files[f.State]++
				if f.MovedTo != "" {
					r.Moved[f.State]++
				}
			}
			return nil
		})
		return r, err
	}
	p := inboxPrefix(inbox)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		n, err := count(k, v)
		if err != nil {
			return r, err
		}
		if st, moved := strings.CutSuffix(string(k[len(p):]), movedSuffix); moved {
			r.Moved[FileState(st)] = int(n)
		} else {
			r.Files[FileState(st)] = int(n)
		}
	}
	return r, nil
}

// RecentErrors calls fn for inbox's files that ended without a result
// (failed, invalid or gone), newest first (by Updated; files updated at the
// same instant in reverse path order), at most limit of them, or all when
// limit <= 0. It reads only those records; fn must not write file records.
// A store of an older schema opened read-only has no index: its records
// are searched instead.
func (t *Tx) RecentErrors(inbox string, limit int, fn func(File) error) error {
	b := t.tx.Bucket(bucketErrs)
	if b == nil {
		return t.scanErrors(inbox, limit, fn)
	}
	p := inboxPrefix(inbox)
	c := b.Cursor()
	// The last key of the inbox is just before the first key past it.
	k, _ := c.Seek(append([]byte(inbox), 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for n := 0; k != nil && bytes.HasPrefix(k, p) && (limit <= 0 || n < limit); k, _ = c.Prev() {
		if err := t.errFile(k, fn); err != nil {
			return err
		}
		n++
	}
	return nil
}

// errFile calls fn with the record an entry of the index of failed files
// names.
func (t *Tx) errFile(k []byte, fn func(File) error) error {
	path := errKeyPath(k)
	f, ok, err := t.File(path)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("state index of failed files names %s, which has no record: run 'ppsync state check'", path)
	}
	return fn(f)
}

// FilesWithoutResult calls fn for every file of any inbox that ended
// without a result (failed, invalid or gone), reading only those records
// (from the index of failed files; a store of an older schema opened
// read-only has none, and its records are searched). fn must not write file
// records.
func (t *Tx) FilesWithoutResult(fn func(File) error) error {
	b := t.tx.Bucket(bucketErrs)
	if b == nil {
		return t.Files(func(f File) error {
			if !FileWithoutResult(f.State) {
				return nil
			}
			return fn(f)
		})
	}
	return b.ForEach(func(k, _ []byte) error {
		t.stride()
		return t.errFile(k, fn)
	})
}

func (t *Tx) scanErrors(inbox string, limit int, fn func(File) error) error {
	var fs []File
	if err := t.Files(func(f File) error {
		if f.Inbox == inbox && FileWithoutResult(f.State) {
			fs = append(fs, f)
		}
		return nil
	}); err != nil {
		return err
	}
	slices.SortFunc(fs, func(a, b File) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(b.Path, a.Path)
	})
	if limit > 0 && len(fs) > limit {
		fs = fs[:limit]
	}
	for _, f := range fs {
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}
