package uploader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/winpath"
)

// A file is hashed once, while it is validated (intake); its upload reads
// it again without hashing it. That the bytes sent are the bytes hashed is
// checked on the opened file instead: before its first byte is sent, its
// size, mtime and identity (inode and ctime, where the watcher trusts them)
// must be those recorded when it was validated, and after its last byte
// they must not have moved. Any write to the file changes its mtime or, if
// that is put back, its ctime; a file renamed over it has another inode.
// A file that fails either check aborts the submission before it completes
// (nothing is charged) and is detached from the batch and reported again:
// it is validated and hashed afresh, and queued under its new content.

// expect is what a file's record says of the life of it that was hashed.
type expect struct {
	size     int64
	mtime    int64  // unix nanoseconds
	identity string // watcher.Event.Identity; "" where not trusted
	// contentType is what validation recognised (state.Doc.ContentType).
	contentType string
}

// errChanged is the error of a file that is no longer the one hashed.
var errChanged = errors.New("it changed after it was hashed")

// stamp is what is compared of an opened file.
type stamp struct {
	size, mtime int64
	identity    string // "" where the platform has none
	ino, ctime  int64  // 0 where the platform has none
}

func (u *Uploader) open(path string, want expect) (io.ReadCloser, error) {
	return openVerified(path, want)
}

// openVerified opens path for upload: an error wrapping errChanged when
// it is not the file recorded in want.
func openVerified(path string, want expect) (io.ReadCloser, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return nil, err
	}
	s, err := stampOf(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if s.size != want.size || s.mtime != want.mtime || (want.identity != "" && s.identity != "" && s.identity != want.identity) {
		f.Close()
		return nil, fmt.Errorf("%s: %w (now %d bytes, modified %s; hashed at %d bytes, modified %s)", path, errChanged,
			s.size, time.Unix(0, s.mtime).Format(time.RFC3339Nano), want.size, time.Unix(0, want.mtime).Format(time.RFC3339Nano))
	}
	return &verifiedFile{f: f, path: path, at: s}, nil
}

// verifiedFile reads a file and, at its end, checks it did not change
// while it was read: the end of the file is reported only then.
type verifiedFile struct {
	f    *os.File
	path string
	at   stamp
}

func (v *verifiedFile) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	if errors.Is(err, io.EOF) {
		s, serr := stampOf(v.f)
		if serr != nil {
			return n, serr
		}
		if s != v.at {
			return n, fmt.Errorf("%s: %w (it was written to while it was being sent)", v.path, errChanged)
		}
	}
	return n, err
}

func (v *verifiedFile) Close() error { return v.f.Close() }
