// Package results writes result and error files beside the source file:
// temp name in the same folder, fsync, rename, so a reader never sees a
// half-written result. Where a result goes is decided from the local file's
// path only, never from anything the API said.
package results

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/errcode"
	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Suffixes of the files ppsync writes beside a source file.
const (
	ResultSuffix = ".json"
	ErrorSuffix  = ".error.json"
	tempMarker   = ".ppsync-"
	tempSuffix   = ".tmp"
)

// ResultPath is where the result of file goes.
func ResultPath(file string) string { return file + ResultSuffix }

// ErrorPath is where the error of file goes.
func ErrorPath(file string) string { return file + ErrorSuffix }

// IsOwnOutput reports whether a file name is one ppsync writes (a result,
// an error file or a temp file), which the watcher must ignore.
func IsOwnOutput(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	return strings.HasSuffix(base, ResultSuffix) ||
		strings.HasPrefix(base, ".") && strings.Contains(base, tempMarker) && strings.HasSuffix(base, tempSuffix)
}

// Source describes the local file a result belongs to.
//
// In JSON, "path" is always a valid UTF-8 string; a name that is not valid
// UTF-8 (which the OS allows) has U+FFFD in place of the invalid bytes there,
// and its exact bytes in "path_bytes" (standard base64), which decoding
// prefers, so such a name survives a round trip.
type Source struct {
	Path   string
	SHA256 string
	Size   int64
}

// sourceJSON is Source's form in result and error files.
type sourceJSON struct {
	Path      string `json:"path"`
	PathBytes []byte `json:"path_bytes,omitempty"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
}

// MarshalJSON adds "path_bytes" when the path is not valid UTF-8.
func (s Source) MarshalJSON() ([]byte, error) {
	j := sourceJSON{Path: s.Path, SHA256: s.SHA256, Size: s.Size}
	if !utf8.ValidString(s.Path) {
		j.PathBytes = []byte(s.Path)
	}
	return json.Marshal(j)
}

// UnmarshalJSON takes the path from "path_bytes" when it is there.
func (s *Source) UnmarshalJSON(b []byte) error {
	var j sourceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Source{Path: j.Path, SHA256: j.SHA256, Size: j.Size}
	if len(j.PathBytes) > 0 {
		s.Path = string(j.PathBytes)
	}
	return nil
}

// Result is the content of <file>.json.
type Result struct {
	Document json.RawMessage `json:"document"`
	Source   Source          `json:"source"`
	// DuplicateOf names the file whose submission produced this document,
	// when this file had the same content and was not submitted again.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	WrittenAt   string `json:"written_at"`
}

// ErrorBody is the error object of <file>.error.json.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fix and Charged come from the catalogue of codes (internal/errcode):
	// what to do, and whether credits were spent on the file. Both are
	// left out for a code the catalogue does not know.
	Fix     string `json:"fix,omitempty"`
	Charged *bool  `json:"charged,omitempty"`
}

// errorBody is the error object of code, with the catalogue's advice.
func errorBody(code, message string) ErrorBody {
	b := ErrorBody{Code: code, Message: message}
	if e, ok := errcode.Lookup(code); ok {
		b.Fix, b.Charged = e.Fix, &e.Charged
	}
	return b
}

// ErrorFile is the content of <file>.error.json.
type ErrorFile struct {
	Error     ErrorBody `json:"error"`
	Source    Source    `json:"source"`
	WrittenAt string    `json:"written_at"`
}

// WriteResult writes <file>.json and removes a stale <file>.error.json.
func WriteResult(file string, doc json.RawMessage, src Source, duplicateOf string) (string, error) {
	out := ResultPath(file)
	if err := WriteResultAt(out, doc, src, duplicateOf); err != nil {
		return "", err
	}
	RemoveStale(ErrorPath(file))
	return out, nil
}

// WriteResultAt writes a result file for src at out, atomically.
func WriteResultAt(out string, doc json.RawMessage, src Source, duplicateOf string) error {
	b, err := EncodeResult(doc, src, duplicateOf)
	if err != nil {
		return err
	}
	return WriteAtomic(out, b)
}

// EncodeResult is the content of the result file of src.
func EncodeResult(doc json.RawMessage, src Source, duplicateOf string) ([]byte, error) {
	if len(doc) == 0 {
		doc = json.RawMessage(`null`)
	}
	b, err := json.MarshalIndent(Result{Document: doc, Source: src, DuplicateOf: duplicateOf, WrittenAt: now()}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode result for %s: %w", src.Path, err)
	}
	return append(b, '\n'), nil
}

// WriteError writes <file>.error.json and removes a stale <file>.json.
func WriteError(file, code, message string, src Source) (string, error) {
	out := ErrorPath(file)
	if err := WriteErrorAt(out, code, message, src); err != nil {
		return "", err
	}
	RemoveStale(ResultPath(file))
	return out, nil
}

// WriteErrorAt writes an error file for src at out, atomically.
func WriteErrorAt(out, code, message string, src Source) error {
	b, err := EncodeError(code, message, src)
	if err != nil {
		return err
	}
	return WriteAtomic(out, b)
}

// EncodeError is the content of the error file of src.
func EncodeError(code, message string, src Source) ([]byte, error) {
	b, err := json.MarshalIndent(ErrorFile{Error: errorBody(code, message), Source: src, WrittenAt: now()}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode error file for %s: %w", src.Path, err)
	}
	return append(b, '\n'), nil
}

// ReadResultSource returns the source recorded in an existing <file>.json,
// so a lost state file never leads to paying again for a finished file.
func ReadResultSource(file string) (Source, bool) { return ReadSourceAt(ResultPath(file)) }

// ReadSourceAt returns the source recorded in the result file at out, read
// back as Own.Read reads it with out's own folder as the root. Callers that
// know the inbox use Own.ReadSource.
func ReadSourceAt(out string) (Source, bool) {
	return Own{Roots: []string{filepath.Dir(out)}}.ReadSource(out, "")
}

// ReadSource returns the source recorded in the result file at out, written
// for source ("" when unknown), when it holds a document and a content hash.
func (o Own) ReadSource(out, source string) (Source, bool) {
	r, err := o.Read(out, source)
	if err != nil || !r.HasDocument() || r.Result.Source.SHA256 == "" {
		return Source{}, false
	}
	return r.Result.Source, true
}

// RemoveStale deletes an outdated result or error file (a file or a
// symlink, never a folder). Failing to is not fatal: the fresh file is in
// place.
func RemoveStale(path string) { _ = removeFile(winpath.Sys(path)) }

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// WriteAtomic writes data to path via a temp file in the same folder,
// fsync and rename, then syncs the folder (see SyncDir).
func WriteAtomic(path string, data []byte) error {
	if err := WriteAtomicNoDirSync(path, data); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return Describe("writing", path, err)
	}
	return nil
}

// WriteAtomicNoDirSync writes data to path via a temp file in the same
// folder, fsync and rename, and leaves the folder unsynced: a reader never
// sees a partial file, but the rename is durable only once the folder is
// synced (DirSyncs does it once for many files). Errors name path, never
// the temp file's random name, so a retried write that fails the same way
// is the same error.
func WriteAtomicNoDirSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	// A short, fixed-length temp name: one built from the file's own name
	// would break the 255-byte name limit for long names.
	tmp := filepath.Join(dir, tempMarker+hex.EncodeToString(rnd[:])+tempSuffix)
	f, err := os.OpenFile(winpath.Sys(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Describe("writing", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(winpath.Sys(tmp))
		return Describe("writing", path, firstErr(werr, serr, cerr))
	}
	if err := renameFile(winpath.Sys(tmp), winpath.Sys(path)); err != nil {
		os.Remove(winpath.Sys(tmp))
		err = Describe("writing", path, err)
		if runtime.GOOS == "windows" && errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("%w (is it open in another program?)", err)
		}
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// SyncDir makes the renames done in dir durable: it fsyncs the folder on a
// local filesystem. It does nothing on Windows (a folder cannot be opened
// for sync there) and on network and FUSE filesystems (SMB, NFS,
// smbnetfs…): there the server makes a rename durable on its own disk, a
// folder fsync from the client cannot reach it, and an SMB client answers
// it by listing the whole folder, a cost that grows with the folder.
func SyncDir(dir string) error {
	if !NeedsDirSync(dir) {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// NeedsDirSync reports whether a rename in dir is made durable by syncing
// dir: on a local filesystem yes; on Windows, network and FUSE
// filesystems no (see SyncDir).
func NeedsDirSync(dir string) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	fi, err := fsinfo.Of(dir)
	return err != nil || !fi.Network
}

// DirSyncs collects the folders that hold renames not yet made durable,
// so that the results finished together sync each folder once, not once
// per file. The zero value syncs with SyncDir.
type DirSyncs struct {
	// Sync makes the renames in a folder durable; nil means SyncDir.
	// Tests count calls through it.
	Sync func(dir string) error

	dirs []string
	seen map[string]bool
}

// Add records that a rename in dir awaits its folder sync.
func (s *DirSyncs) Add(dir string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[dir] {
		s.seen[dir] = true
		s.dirs = append(s.dirs, dir)
	}
}

// Flush syncs each folder added since the last Flush once, in the order
// added; it returns the folders whose sync failed, with their errors.
func (s *DirSyncs) Flush() map[string]error {
	sync := s.Sync
	if sync == nil {
		sync = SyncDir
	}
	var failed map[string]error
	for _, d := range s.dirs {
		if err := sync(d); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[d] = err
		}
	}
	s.dirs, s.seen = nil, nil
	return failed
}

// syncDir syncs dir where it means something, ignoring errors: for moves,
// which are not results.
func syncDir(dir string) { _ = SyncDir(dir) }

// Move moves file and its result/error file from inboxRoot into destRoot,
// keeping the path relative to the inbox. An existing file of the same name
// is never overwritten: a counter is added. It returns the new file path.
func Move(file, inboxRoot, destRoot string) (string, error) {
	dest, err := MoveFile(file, inboxRoot, destRoot)
	if err != nil {
		return dest, err
	}
	for _, suffix := range []string{ResultSuffix, ErrorSuffix} {
		if _, err := os.Stat(winpath.Sys(file + suffix)); err == nil {
			if err := os.Rename(winpath.Sys(file+suffix), winpath.Sys(dest+suffix)); err != nil {
				return dest, fmt.Errorf("move %s: %w", file+suffix, err)
			}
		}
	}
	syncDir(filepath.Dir(dest))
	return dest, nil
}

// MovedOutput is where out, an output written beside file, went when Move
// moved file to movedTo with its outputs; "" when out was not beside file
// (a results_dir keeps the outputs where they are, and MoveFile moves the
// file alone).
func MovedOutput(file, out, movedTo string) string {
	suffix, ok := strings.CutPrefix(out, file)
	if !ok || suffix == "" || filepath.Dir(out) != filepath.Dir(file) {
		return ""
	}
	return movedTo + suffix
}

// MoveFile moves file alone (its outputs live elsewhere) from inboxRoot into
// destRoot, keeping the path relative to the inbox and never overwriting: a
// counter is added. It returns the new file path.
func MoveFile(file, inboxRoot, destRoot string) (string, error) {
	rel, err := filepath.Rel(inboxRoot, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = filepath.Base(file)
	}
	dest := filepath.Join(destRoot, rel)
	if err := os.MkdirAll(winpath.Sys(filepath.Dir(dest)), 0o755); err != nil {
		return "", fmt.Errorf("move %s: %w", file, err)
	}
	dest = freeName(dest)
	if err := os.Rename(winpath.Sys(file), winpath.Sys(dest)); err != nil {
		return "", fmt.Errorf("move %s to %s: %w", file, dest, err)
	}
	syncDir(filepath.Dir(dest))
	return dest, nil
}

func freeName(p string) string {
	if _, err := os.Lstat(winpath.Sys(p)); errors.Is(err, os.ErrNotExist) {
		return p
	}
	ext := filepath.Ext(p)
	stem := strings.TrimSuffix(p, ext)
	for i := 1; ; i++ {
		c := fmt.Sprintf("%s (%d)%s", stem, i, ext)
		if _, err := os.Lstat(winpath.Sys(c)); errors.Is(err, os.ErrNotExist) {
			return c
		}
	}
}

// CleanTemp removes temp files a killed ppsync left in dir (and below it when
// recursive). Call it before anything writes results.
func CleanTemp(dir string, recursive bool) (int, error) {
	n := 0
	xdir := winpath.Extended(dir) // names ending in a dot or a space, on Windows
	err := filepath.WalkDir(xdir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == xdir {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if p != xdir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker) && strings.HasSuffix(name, tempSuffix) {
			if os.Remove(p) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}
