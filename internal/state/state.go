// Package state is ppsync's bbolt store: files, documents, batches (the
// write-ahead intents of submissions) and metadata, under a schema version.
// Transactions are short and never span network calls: callers read, close
// the transaction, talk to the API, then record the outcome in a new one.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this build writes.
const SchemaVersion = 4

var (
	bucketMeta    = []byte("meta")
	bucketFiles   = []byte("files")
	bucketDocs    = []byte("docs")
	bucketBatches = []byte("batches")
	bucketOpen    = []byte("open") // index of records not in a final state (index.go)
	keySchema     = []byte("schema_version")
)

// ErrDamaged means the state file cannot be read.
var ErrDamaged = errors.New("state file damaged")

// ErrLocked means another process holds the state file.
var ErrLocked = errors.New("state file is locked")

// FileState is where a file record is in its life (see lifecycle.go). Its
// JSON form is the plain string, as records have always stored it.
type FileState string

// DocState is where a document record is in its life (see lifecycle.go).
// Its JSON form is the plain string, as records have always stored it.
type DocState string

// File states.
const (
	FileQueued    FileState = "queued"    // hashed and valid, waiting for its document's result
	FileDone      FileState = "done"      // <file>.json written
	FileFailed    FileState = "failed"    // <file>.error.json written (the API failed it)
	FileInvalid   FileState = "invalid"   // <file>.error.json written (refused locally, never uploaded)
	FileGone      FileState = "gone"      // deleted before its result could be written
	FileDuplicate FileState = "duplicate" // same content as another file: shares its document
)

// Document states.
const (
	DocQueued    DocState = "queued"    // waiting to be batched
	DocBatched   DocState = "batched"   // in a batch intent, maybe sent
	DocSubmitted DocState = "submitted" // accepted by the API; waiting for the result
	DocDone      DocState = "done"      // result stored
	DocFailed    DocState = "failed"    // the API (or local validation of the batch) failed it
)

// File is one file in an inbox, keyed by absolute path.
type File struct {
	Path     string    `json:"path"`
	Inbox    string    `json:"inbox"`
	ParserID string    `json:"parser_id"`
	Size     int64     `json:"size"`
	ModTime  int64     `json:"mtime"` // unix nanoseconds
	SHA256   string    `json:"sha256,omitempty"`
	Pages    int       `json:"pages,omitempty"`
	State    FileState `json:"state"`
	Code     string    `json:"code,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Result   string    `json:"result,omitempty"` // path of the written .json / .error.json
	// MovedTo is where after = "move" put the finished file; the record
	// stays (under the path the file had) so it is counted.
	MovedTo string `json:"moved_to,omitempty"`
	// Identity and Fingerprint tell this life of the file from a later
	// one with the same size and mtime (see internal/fileid).
	Identity    string    `json:"identity,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	FirstSeen   time.Time `json:"first_seen"`
	Updated     time.Time `json:"updated"`
}

// DocKey is a document's identity: the parser and the content hash.
func DocKey(parserID, sha string) string { return parserID + ":" + sha }

// Doc is one distinct content submitted (or to submit) to one parser.
type Doc struct {
	Key      string   `json:"key"`
	ParserID string   `json:"parser_id"`
	SHA256   string   `json:"sha256"`
	Size     int64    `json:"size"`
	Pages    int      `json:"pages"`
	State    DocState `json:"state"`
	// ContentType is the MIME type validation recognised ("" in records
	// from before it was kept: the upload then reads it from the file).
	ContentType string `json:"content_type,omitempty"`
	// First is the first file attached to the document (the name it is
	// sent under, and the file a copy's result names as its original). The
	// files of a document are records of their own (see Tx.DocFiles).
	First string `json:"first,omitempty"`
	// Files, when set, are attached to the document when it is written, besides
	// the files attached already. They are not stored in the record nor
	// read back: Tx.DocFiles lists the attached files, Tx.Detach removes one.
	Files []string `json:"-"`
	Batch string   `json:"batch,omitempty"`
	// UploadName is the filename the document was sent under; the API's
	// answer names it, and a result is written only when the names agree.
	UploadName string `json:"upload_name,omitempty"`
	// KeyGen counts submissions of this document the API refused without
	// charging (402); it is part of the idempotency key, so a resend after
	// a top-up is not answered with a cached refusal.
	KeyGen int `json:"key_gen,omitempty"`
	// Unmatched counts submission answers that did not name this document.
	Unmatched    int             `json:"unmatched,omitempty"`
	ExtractionID string          `json:"extraction_id,omitempty"`
	DocumentID   string          `json:"document_id,omitempty"`
	SubmittedAt  time.Time       `json:"submitted_at,omitzero"`
	Result       json.RawMessage `json:"result,omitempty"` // the API's document object, kept until its files are written (see finish)
	Code         string          `json:"code,omitempty"`
	Message      string          `json:"message,omitempty"`
	// Retry asks for a failed document to be sent again when its file is
	// next seen; Retries counts how often that happened (it is part of the
	// idempotency key, so a retry is not answered with the failed job).
	Retry   bool      `json:"retry,omitempty"`
	Retries int       `json:"retries,omitempty"`
	Updated time.Time `json:"updated"`
}

// KeyPart is what a document contributes to its batch's idempotency key.
func (d Doc) KeyPart() string {
	part := d.SHA256
	if d.Retries > 0 {
		part += "#retry-" + strconv.Itoa(d.Retries)
	}
	if d.KeyGen > 0 {
		part += "#gen-" + strconv.Itoa(d.KeyGen)
	}
	return part
}

// Batch is a submission intent, committed before the request is sent and
// kept until its outcome is recorded. Its key is the Idempotency-Key.
type Batch struct {
	Key      string    `json:"key"`
	ParserID string    `json:"parser_id"`
	Docs     []string  `json:"docs"`  // document keys, in send order
	Paths    []string  `json:"paths"` // the file sent for each document
	Names    []string  `json:"names"` // the filename sent for each document
	Pages    int       `json:"pages"`
	Bytes    int64     `json:"bytes"`
	Created  time.Time `json:"created"`
	Attempts int       `json:"attempts"`
}

// ErrWrite means the state file itself could not be written (a full or
// failing disk): the transaction was rolled back and may be tried again.
var ErrWrite = errors.New("state file not writable")

// writeError is a write that failed because the state file itself could
// not be written. It wraps ErrWrite and the system's error.
type writeError struct {
	path string
	err  error
}

func (e *writeError) Error() string {
	return fmt.Sprintf("%v: %s: %v (free space on its disk; ppsync retries by itself)", ErrWrite, e.path, e.err)
}

func (e *writeError) Unwrap() []error { return []error{ErrWrite, e.err} }

// Fault returns the part of err that says the state file could not be
// written, when it does: it names the state file and the system's error,
// not the record, so the same full disk reads the same for every file
// (and a log that holds back repeats writes it once). Any other error is
// returned as it is.
func Fault(err error) error {
	var we *writeError
	if errors.As(err, &we) {
		return we
	}
	return err
}

// Store is the open state file.
type Store struct {
	path string
	opts bolt.Options // as the file was opened; CompactInPlace opens its copy with them

	// dbMu guards db and version: every transaction holds it for reading;
	// Close and CompactInPlace, which end or replace db, hold it for writing.
	dbMu sync.RWMutex
	db   *bolt.DB
	// pageSize is db's page size, read when db is opened: bbolt's Info
	// reads it from the mapping, which a writer may be replacing.
	pageSize int
	// version is added to bbolt's transaction id in Tx.Version, so that
	// versions keep growing when CompactInPlace swaps in a new file (whose
	// transaction ids start again from 1).
	version uint64
	// compactFault, when set, is asked before each step of CompactInPlace
	// and fails it with the error it returns.
	compactFault func(step string) error
	// strideLook, when set, is called at each look a pass over a whole
	// bucket takes (Tx.stride).
	strideLook func()

	// txs counts the transactions run through View and Update, commits
	// the write transactions committed.
	txs     atomic.Uint64
	commits atomic.Uint64
	// records counts the records read and written through View and Update,
	// bytes the bytes of the records written (see Cost).
	records atomic.Int64
	bytes   atomic.Int64

	// mapMu guards mapCache: where the file is mapped (see Tx.releaseMapped).
	mapMu    sync.Mutex
	mapCache mapCache
	// unchecked counts the records read and written since the process's
	// resident file-backed memory was last looked at (see budget.go);
	// checks counts those looks, releases the releases (madvise passes).
	// baseline is that memory, in bytes, right after the last release (or
	// the lowest seen since).
	unchecked atomic.Int64
	gauge     gauge         // reads /proc/self/statm
	touched   chan struct{} // see Touched
	keepUpTo  atomic.Int64  // see KeepMappedUpTo
	checks    atomic.Uint64
	releases  atomic.Uint64
	baseline  atomic.Int64
	// size is the state file's size as the last transaction saw it
	// (UpdateEach writes in parts when it is large).
	size atomic.Int64
	// partsOver, when set, replaces partsAbove (tests).
	partsOver int64

	mu         sync.Mutex
	writeErr   error // the last write failure, nil after a write succeeds
	writeSince time.Time

	validation validationRun // see validating.go
	// damage is set when a transaction finds the file damaged.
	damage damage
}

// Open opens (creating if needed, mode 0600) the state file. A second
// process gets an error wrapping ErrLocked within timeout.
func Open(path string, timeout time.Duration) (s *Store, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state %s: cannot create its folder: %w", path, err)
	}
	var file *os.File // the file bbolt opened last, closed if it panics
	var db *bolt.DB
	defer func() {
		// bbolt panics on some kinds of damage; turn that into an error that
		// names the file and the way out, and free the file's lock.
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			} else if file != nil {
				_ = file.Close()
			}
			s, err = nil, damaged(path, fmt.Errorf("%v", r))
		}
	}()
	opts := bolt.Options{Timeout: timeout, OpenFile: openFileFor(&file)}
	before, _ := os.Stat(path)
	db, err = openDB(path, opts)
	if err != nil {
		return nil, err
	}
	if replaced(path, before) {
		// Compacted and swapped while this process waited for the lock:
		// open the file that is there now.
		db.Close()
		db = nil
		if db, err = openDB(path, opts); err != nil {
			return nil, err
		}
	}
	opts.OpenFile = nil // later opens (compaction in place) use os.OpenFile
	s = &Store{db: db, path: path, opts: opts, pageSize: db.Info().PageSize, damage: damage{c: make(chan struct{})}, touched: make(chan struct{}, 1)}
	s.noteReleased()
	_ = db.View(func(tx *bolt.Tx) error { s.size.Store(tx.Size()); return nil })
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.Probe(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the bbolt file, naming in its error a lock held by another
// process or a damaged file.
func openDB(path string, opts bolt.Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &opts)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("another ppsync is using %s (a service and a console run at the same time?): stop it first: %w", path, ErrLocked)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, damaged(path, err)
		}
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return db, nil
}

func damaged(path string, err error) error {
	cause := err.Error()
	if r := []rune(cause); len(r) > 200 {
		cause = string(r[:200]) + "…" // bbolt's account of a page can run to pages of hex
	}
	return fmt.Errorf("state file %s is damaged (%s): stop ppsync and run 'ppsync state rebuild -c CONFIG' "+
		"(it moves the file aside and rebuilds from the result files in the inboxes, so finished files are not submitted twice): %w", path, cause, ErrDamaged)
}

func (s *Store) migrate() error {
	return s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		v := 0
		if b := meta.Get(keySchema); b != nil {
			v, err = strconv.Atoi(string(b))
			if err != nil {
				return damaged(s.path, fmt.Errorf("schema version %q", b))
			}
		}
		if v > SchemaVersion {
			return fmt.Errorf("state file %s has schema version %d, newer than this ppsync understands (%d): upgrade ppsync", s.path, v, SchemaVersion)
		}
		// Migrations from older versions run here, one step at a time.
		for v < SchemaVersion {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("state %s: migrating schema %d to %d: %w", s.path, v, v+1, err)
			}
			v++
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(v)))
	})
}

// migrations[n] upgrades a store from schema n to n+1.
var migrations = []func(*bolt.Tx) error{
	0: func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFiles, bucketDocs, bucketBatches} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	1: buildOpenIndex,
	2: buildTally,
	3: splitDocFiles,
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file. It waits for the transactions under way.
func (s *Store) Close() error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	defer s.gauge.close()
	return s.db.Close()
}

// view runs fn in a read-only transaction of the current file.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer s.recoverDamage(&err)
	// A damaged page can point past the mapped file: the read then faults,
	// which this turns into a panic that recoverDamage reports.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a read-write transaction of the current file.
func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer s.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.Update(fn)
}

// tx wraps a bbolt transaction of the current file; the caller holds dbMu.
func (s *Store) tx(tx *bolt.Tx) *Tx { return &Tx{tx: tx, version: s.version, s: s} }

// Schema returns the stored schema version.
func (s *Store) Schema() (int, error) {
	var v int
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		v, err = strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keySchema)))
		return err
	})
	return v, err
}

// Check runs bbolt's consistency check, decodes every record, and checks
// the index of open records, the tally and the index of failed files
// against the records.
func (s *Store) Check() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = damaged(s.path, fmt.Errorf("%v", r))
		}
		s.markDamaged(err)
	}()
	return s.view(func(tx *bolt.Tx) error {
		// bbolt's check reads the pages in a goroutine of its own, where a
		// read past the mapped file would crash the process; every page
		// it reaches through the buckets is read here first, guarded.
		if err := readEveryBucket(tx); err != nil {
			return damaged(s.path, err)
		}
		if err := s.checkRecords(tx); err != nil {
			return err
		}
		for err := range tx.Check() {
			return damaged(s.path, err)
		}
		return nil
	})
}

// readEveryBucket reads every key and value of every bucket, nested ones
// included, so that a damaged page faults (and is reported) in the
// caller's guarded goroutine.
func readEveryBucket(tx *bolt.Tx) error {
	var sum uint32 // a checksum, so that every byte is really read
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sum = crc32.Update(sum, crc32.IEEETable, k)
			if v == nil {
				if nested := b.Bucket(k); nested != nil {
					return walk(nested)
				}
				return nil
			}
			sum = crc32.Update(sum, crc32.IEEETable, v)
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
}

// CheckRecords is Check without bbolt's own check of the file's pages,
// which reads the free page list unguarded and so must not run beside a
// write: it decodes every record and checks the index of open records,
// the tally and the index of failed files against them, in one read
// transaction (a consistent view while the daemon writes). A damaged
// page met on the way is reported as Check reports it.
func (s *Store) CheckRecords() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = damaged(s.path, fmt.Errorf("%v", r))
		}
		s.markDamaged(err)
	}()
	return s.view(s.checkRecords)
}

func (s *Store) checkRecords(tx *bolt.Tx) error {
	// Every pass over a whole bucket hands the mapped pages back as it goes
	// (Tx.stride): the check reads every record of a state of a million
	// records several times over, and would otherwise have the whole file
	// resident in the daemon by its end.
	t := s.tx(tx)
	for _, f := range []func() error{
		func() error { return t.Files(func(File) error { return nil }) },
		func() error { return t.Docs(func(Doc) error { return nil }) },
		func() error { return t.Batches(func(Batch) error { return nil }) },
	} {
		if err := f(); err != nil {
			return damaged(s.path, err)
		}
	}
	if err := checkIndex(t); err != nil {
		return damaged(s.path, err)
	}
	if err := checkDocWait(t); err != nil {
		return damaged(s.path, err)
	}
	// An older schema opened read-only has no tally yet; it gets one
	// when ppsync next opens it for writing.
	if v, _ := strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keySchema))); v >= 3 {
		if err := checkTally(t); err != nil {
			return damaged(s.path, err)
		}
	}
	return nil
}

// Tx is a read or read-write transaction.
type Tx struct {
	tx      *bolt.Tx
	version uint64 // the store's version base when the transaction began
	s       *Store
	// ops counts the lookups: records read and written (see touch), and
	// steps of an index. settled is how many of them the store's count
	// of lookups since its last look has (see settle).
	ops, settled int
	// strides counts the records a pass over a whole bucket read (stride).
	strides int
	// bytes counts the bytes of the records written, keys included.
	bytes int
}

// mapping is an address range of the state file's mapping.
type mapping struct{ start, end uintptr }

// mapCache is where one open bbolt file is mapped, as /proc/self/maps said
// when the mapping began at data and the file had size bytes.
type mapCache struct {
	db   *bolt.DB
	data uintptr
	size int64
	ms   []mapping
}

// Update runs fn in a read-write transaction. When the file itself cannot
// be written, the error wraps ErrWrite and WriteFault reports it until a
// write succeeds again. fn must not call the Store's methods: they would
// wait for a compaction that waits for fn.
func (s *Store) Update(fn func(*Tx) error) (err error) {
	defer s.recoverDamage(&err)
	var fnErr error
	s.txs.Add(1)
	err = func() error {
		s.dbMu.RLock()
		defer s.dbMu.RUnlock()
		var ops int
		err := s.db.Update(func(tx *bolt.Tx) error {
			t := s.tx(tx)
			fnErr = fn(t)
			ops = t.ops
			s.size.Store(tx.Size())
			t.settle()
			s.records.Add(int64(t.ops))
			s.bytes.Add(int64(t.bytes))
			return fnErr
		})
		// The commit went through every page the transaction changed (bbolt
		// frees each old page and sorts the keys still read from the mapping):
		// a write of ten documents maps some 2 MiB. Once the lookups made
		// since the last look add up to a batch (checkBatch), or this write
		// alone made one, what is mapped is looked at and handed back if
		// over the budget (see budget.go).
		if s.checkDue(ops) {
			_, _ = s.releaseIfOver(s.release)
		}
		return err
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.writeErr = nil
		s.commits.Add(1)
	case fnErr == nil:
		if s.writeErr == nil {
			s.writeSince = time.Now()
		}
		s.writeErr = err
		return &writeError{path: s.path, err: err}
	}
	return err
}

// Releases is how many times the mapped pages were handed back.
func (s *Store) Releases() uint64 { return s.releases.Load() }

// release hands the mapped pages back under a read transaction of its own,
// which holds the mapping still; the caller holds dbMu.
func (s *Store) release() error {
	return s.db.View(func(tx *bolt.Tx) error { return s.tx(tx).releaseMapped() })
}

// WriteFault describes why the state file cannot be written now ("" when
// the last write succeeded).
func (s *Store) WriteFault() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr == nil {
		return ""
	}
	return fmt.Sprintf("the state file %s cannot be written since %s: %v: free space on its disk; ppsync retries by itself",
		s.path, s.writeSince.Format(time.RFC3339), s.writeErr)
}

// View runs fn in a read-only transaction. fn must not call the Store's
// methods (see Update).
func (s *Store) View(fn func(*Tx) error) (err error) {
	defer s.recoverDamage(&err)
	s.txs.Add(1)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(func(tx *bolt.Tx) error {
		t := s.tx(tx)
		err := fn(t)
		t.settle()
		s.records.Add(int64(t.ops))
		// What the reads mapped is looked at once the lookups made since
		// the last look add up to a batch (checkBatch), and handed back if
		// over the budget (see budget.go).
		if s.checkDue(t.ops) {
			_, _ = s.releaseIfOver(t.releaseMapped)
		}
		return err
	})
}

func get[T any](tx *bolt.Tx, bucket []byte, key string) (T, bool, error) {
	var v T
	b := tx.Bucket(bucket).Get([]byte(key))
	if b == nil {
		return v, false, nil
	}
	if err := decode(b, &v); err != nil {
		return v, false, fmt.Errorf("state record %s/%s: %w", bucket, key, err)
	}
	return v, true, nil
}

// decode is json.Unmarshal, but a record with its own decoder (Doc, File,
// Batch) is handed to it directly: json.Unmarshal would scan the whole
// record once to validate it before the decoder scans it again.
func decode(b []byte, v any) error {
	if u, ok := v.(json.Unmarshaler); ok {
		return u.UnmarshalJSON(b)
	}
	return json.Unmarshal(b, v)
}

// encode is json.Marshal, but a record with its own encoder is asked
// directly: json.Marshal would scan its (already compact) output again.
func encode(v any) ([]byte, error) {
	if m, ok := v.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(v)
}

// put writes a record and counts its bytes (see Store.Cost).
func (t *Tx) put(bucket []byte, key string, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	t.bytes += len(key) + len(b)
	return t.tx.Bucket(bucket).Put([]byte(key), b)
}

func each[T any](tx *bolt.Tx, bucket []byte, fn func(T) error) error {
	return tx.Bucket(bucket).ForEach(func(k, b []byte) error {
		var v T
		if err := decode(b, &v); err != nil {
			return fmt.Errorf("state record %s/%s: %w", bucket, k, err)
		}
		return fn(v)
	})
}

// File reads a file record.
func (t *Tx) File(path string) (File, bool, error) {
	t.touch()
	return get[File](t.tx, bucketFiles, path)
}

// putFile writes a file record (lifecycle.go checks the step first).
func (t *Tx) putFile(f File) error {
	t.touch()
	next := talliedOf(f)
	was, err := retally(t.tx, f.Path, &next)
	if err != nil {
		return err
	}
	if err := historyOfFile(t.tx, was, f); err != nil {
		return err
	}
	if err := t.put(bucketFiles, f.Path, f); err != nil {
		return err
	}
	return indexFile(t.tx, f)
}

// deleteFile removes a file record (lifecycle.go checks the step first).
func (t *Tx) deleteFile(path string) error {
	t.touch()
	if _, err := retally(t.tx, path, nil); err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketFiles).Delete([]byte(path)); err != nil {
		return err
	}
	return unindexFile(t.tx, path)
}

// Files calls fn for every file record. It reads every record (handing the
// mapped pages back as it goes, see walk): the daemon's reports use Tally,
// OpenFiles and RecentErrors instead.
func (t *Tx) Files(fn func(File) error) error { return walk(t, bucketFiles, fn) }

// walkCheckEvery is how many records walk reads between two looks at how
// much of the state is mapped (see budget.go). A walk reads the leaves in
// order, so the pages mapped between two looks are the few leaves those
// records fill (well under 2 MiB); a release maps the current leaf again,
// which at 32 records a release took a third of a walk's time.
const walkCheckEvery = 512

// walk calls fn for every record of bucket, and every walkCheckEvery
// records hands the state's mapped pages back when they are over the
// budget: a walk of a million records would otherwise map the whole
// bucket into the process until it ends.
func walk[T any](t *Tx, bucket []byte, fn func(T) error) error {
	return each(t.tx, bucket, func(v T) error {
		t.stride()
		return fn(v)
	})
}

// stride counts a record read by a pass over a whole bucket (or index) and,
// every walkCheckEvery, hands the state's mapped pages back when they are
// over the budget. Every pass over all the records goes through it: one
// that does not maps the whole bucket into the process until it ends.
func (t *Tx) stride() {
	if t.strides++; t.strides%walkCheckEvery == 0 {
		t.releaseIfOver()
		if t.s != nil && t.s.strideLook != nil {
			t.s.strideLook()
		}
	}
}

// Doc reads a document record.
func (t *Tx) Doc(key string) (Doc, bool, error) {
	t.touch()
	return get[Doc](t.tx, bucketDocs, key)
}

// putDoc writes a document record, attaching the paths in d.Files first
// (lifecycle.go checks the step first).
func (t *Tx) putDoc(d Doc) error {
	t.touch()
	for _, p := range d.Files {
		if _, err := t.Attach(&d, p); err != nil {
			return err
		}
	}
	if err := historyOfDoc(t.tx, d); err != nil {
		return err
	}
	if err := t.put(bucketDocs, d.Key, d); err != nil {
		return err
	}
	return indexDoc(t.tx, d.Key, d.State)
}

// Docs calls fn for every document record.
func (t *Tx) Docs(fn func(Doc) error) error { return walk(t, bucketDocs, fn) }

// Batch reads a batch intent.
func (t *Tx) Batch(key string) (Batch, bool, error) { return get[Batch](t.tx, bucketBatches, key) }

// PutBatch writes a batch intent.
func (t *Tx) PutBatch(b Batch) error { return t.put(bucketBatches, b.Key, b) }

// DeleteBatch removes a batch intent.
func (t *Tx) DeleteBatch(key string) error { return t.tx.Bucket(bucketBatches).Delete([]byte(key)) }

// Batches calls fn for every batch intent.
func (t *Tx) Batches(fn func(Batch) error) error { return each(t.tx, bucketBatches, fn) }

// Meta reads a metadata value ("" if absent).
func (t *Tx) Meta(key string) string { return string(t.tx.Bucket(bucketMeta).Get([]byte(key))) }

// PutMeta writes a metadata value.
func (t *Tx) PutMeta(key, value string) error {
	return t.tx.Bucket(bucketMeta).Put([]byte(key), []byte(value))
}

// Version identifies the store's content as of this transaction: it changes
// with every committed write, so readers can cache what they derived from it.
func (t *Tx) Version() uint64 { return t.version + uint64(t.tx.ID()) }

// StoredResults reads up to scan document records in key order after the
// key after and calls fn with the key of each final one that still holds
// a result. It returns the last key read and whether records remain, so a
// caller goes through a large state in short transactions; records without
// a result are skipped without being decoded in full.
func (t *Tx) StoredResults(after string, scan int, fn func(key string) error) (last string, more bool, err error) {
	c := t.tx.Bucket(bucketDocs).Cursor()
	k, v := c.First()
	if after != "" {
		if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
			k, v = c.Next()
		}
	}
	for n := 0; k != nil && n < scan; k, v = c.Next() {
		n++
		last = string(k)
		if !bytes.Contains(v, []byte(`"result":`)) {
			continue
		}
		var d struct {
			State  DocState        `json:"state"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return last, false, fmt.Errorf("state record %s/%s: %w", bucketDocs, k, err)
		}
		if len(d.Result) > 0 && DocFinal(d.State) {
			if err := fn(last); err != nil {
				return last, false, err
			}
		}
	}
	return last, k != nil, nil
}

// Cost is what the transactions run through View and Update did so far:
// a caller compares two readings to see what one piece of work cost.
type Cost struct {
	Records int64 // records read or written, index entries walked included
	Bytes   int64 // bytes of the records written (keys and values)
}

// Cost returns what the transactions did so far.
func (s *Store) Cost() Cost { return Cost{Records: s.records.Load(), Bytes: s.bytes.Load()} }

// Transactions counts the transactions run through View and Update so far:
// a caller that releases the mapped pages now and then (ReleaseMapped) can
// skip it while nothing has read the state since.
func (s *Store) Transactions() uint64 { return s.txs.Load() }

// Commits is how many write transactions were committed (each costs the
// file's syncs).
func (s *Store) Commits() uint64 { return s.commits.Load() }
