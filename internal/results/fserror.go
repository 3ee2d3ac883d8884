package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// FileError is a failed read or write of a file ppsync reads or writes,
// said for a person: the path once, what went wrong, and what to do. It
// wraps the system's error, so errors.Is(err, syscall.EIO) and
// errors.Is(err, fs.ErrPermission) still hold.
type FileError struct {
	Op   string // "reading" or "writing"
	Path string
	Err  error // the system's error, without the path (no temp names)
}

// Describe returns err, from op ("reading" or "writing") on path, as a
// FileError; nil stays nil. An os.PathError's own path (often a temp
// name) is dropped: path is the one a person knows.
func Describe(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return err
	}
	inner := err
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		inner = pe.Err
	case errors.As(err, &le):
		inner = le.Err
	}
	return &FileError{Op: op, Path: path, Err: inner}
}

func (e *FileError) Error() string {
	switch {
	case Unreachable(e.Err):
		return fmt.Sprintf("I/O error %s %s (the share or disk may be unreachable): %v; ppsync retries", e.Op, e.Path, e.Err)
	case errors.Is(e.Err, fs.ErrPermission):
		verb := "write to"
		if e.Op == "reading" {
			verb = "read"
		}
		return fmt.Sprintf("cannot %s %s: %v: grant the ppsync user access to %s it", e.verb(), e.Path, e.Err, verb)
	case errors.Is(e.Err, syscall.ENOSPC):
		return fmt.Sprintf("cannot %s %s: %v: free some space; ppsync retries", e.verb(), e.Path, e.Err)
	}
	return fmt.Sprintf("cannot %s %s: %v; ppsync retries", e.verb(), e.Path, e.Err)
}

func (e *FileError) verb() string {
	if e.Op == "reading" {
		return "read"
	}
	return "write"
}

// Unwrap returns the system's error.
func (e *FileError) Unwrap() error { return e.Err }

// Unreachable reports whether err says the storage itself cannot be
// reached (a share whose server is down, a disk that failed): an I/O
// error, a connection gone, a stale handle, a host down. Such an error
// says nothing about the one file: every file there fails alike.
func Unreachable(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EIO, syscall.ENOTCONN, syscall.ESTALE, syscall.EHOSTDOWN, syscall.EHOSTUNREACH,
		syscall.ENETDOWN, syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.ECONNREFUSED, syscall.ENODEV, syscall.ENXIO:
		return true
	}
	return unreachableOS(errno)
}
