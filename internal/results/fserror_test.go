package results_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ppsync/ppsync/internal/results"
)

// Each failure says what it is, names the path once (never a temp name),
// and gives the advice that fits: an I/O error is not a permission
// problem.
func TestDescribeSaysWhatWentWrongOnce(t *testing.T) {
	const p = "/srv/share/inbox/a.pdf.json"
	tmp := &fs.PathError{Op: "open", Path: "/srv/share/inbox/.ppsync-0a1b2c3d4e5f.tmp", Err: syscall.EIO}
	for _, c := range []struct {
		name      string
		op        string
		err       error
		want      []string
		not       []string
		is        error
		reachable bool
	}{
		{"I/O error writing", "writing", tmp,
			[]string{"I/O error writing " + p + " (the share or disk may be unreachable)", "input/output error", "ppsync retries"},
			[]string{"grant", "access", ".ppsync-"}, syscall.EIO, false},
		{"I/O error reading", "reading", &fs.PathError{Op: "open", Path: p, Err: syscall.EIO},
			[]string{"I/O error reading " + p, "ppsync retries"}, []string{"grant"}, syscall.EIO, false},
		{"connection gone", "writing", &os.LinkError{Op: "rename", Old: "/x/.ppsync-1.tmp", New: p, Err: syscall.ENOTCONN},
			[]string{"I/O error writing " + p, "unreachable"}, []string{".ppsync-"}, syscall.ENOTCONN, false},
		{"stale handle", "writing", syscall.ESTALE, []string{"I/O error writing " + p}, nil, syscall.ESTALE, false},
		{"permission", "writing", &fs.PathError{Op: "open", Path: "/srv/share/inbox/.ppsync-1.tmp", Err: syscall.EACCES},
			[]string{"cannot write " + p, "permission denied", "grant the ppsync user access to write to it"},
			[]string{"I/O error", "unreachable", ".ppsync-"}, fs.ErrPermission, true},
		{"read permission", "reading", &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES},
			[]string{"cannot read " + p, "grant the ppsync user access to read it"}, []string{"I/O error"}, fs.ErrPermission, true},
		{"disk full", "writing", &fs.PathError{Op: "write", Path: "/x/.ppsync-2.tmp", Err: syscall.ENOSPC},
			[]string{"cannot write " + p, "free some space"}, []string{"grant", ".ppsync-"}, syscall.ENOSPC, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := results.Describe(c.op, p, c.err)
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(msg, n) {
					t.Errorf("%q says %q", msg, n)
				}
			}
			if n := strings.Count(msg, p); n != 1 {
				t.Errorf("%q names the path %d times, want once", msg, n)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, c.is)
			}
			if results.Unreachable(err) == c.reachable {
				t.Errorf("Unreachable(%v) = %v", err, !c.reachable)
			}
		})
	}
	if results.Describe("writing", p, nil) != nil {
		t.Error("Describe(nil) is not nil")
	}
}

// A write that fails names the result once and not the temp file.
func TestWriteAtomicErrorNamesTheResultOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gone", "a.pdf.json") // its folder does not exist
	err := results.WriteAtomic(p, []byte("{}"))
	if err == nil {
		t.Fatal("no error writing into a missing folder")
	}
	if msg := err.Error(); strings.Count(msg, p) != 1 || strings.Contains(msg, ".ppsync-") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q: want the result's path once, no temp name, and ErrNotExist", msg)
	}
}
