package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
)

// secret is what an attacker wants served: the daemon's environment, the
// state file, /etc/shadow. Here it is shaped like a result, so only the
// checks on how it is reached can refuse it.
const secret = "PP_API_KEY=pp_live_0123456789"

// ownEnv is an inbox with one finished file, and a private folder outside
// it holding a secret shaped like a result of the same file.
type ownEnv struct {
	inbox, private, file, out, secretFile string
	own                                   Own
	logs                                  *bytes.Buffer
}

func newOwnEnv(t *testing.T) *ownEnv {
	t.Helper()
	dir := t.TempDir()
	e := &ownEnv{inbox: filepath.Join(dir, "inbox"), private: filepath.Join(dir, "private"), logs: &bytes.Buffer{}}
	for _, d := range []string{e.inbox, e.private} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.file = filepath.Join(e.inbox, "mine.pdf")
	e.out = ResultPath(e.file)
	src := Source{Path: e.file, SHA256: strings.Repeat("a", 64), Size: 10}
	if err := WriteResultAt(e.out, json.RawMessage(`{"document_id":"doc_mine"}`), src, ""); err != nil {
		t.Fatal(err)
	}
	e.secretFile = filepath.Join(e.private, "mine.pdf.json")
	if err := WriteResultAt(e.secretFile, json.RawMessage(`{"document_id":"doc_secret","extracted_data":{"env":"`+secret+`"}}`), src, ""); err != nil {
		t.Fatal(err)
	}
	e.own = Own{Roots: []string{e.inbox}, Log: slog.New(slog.NewTextHandler(e.logs, nil))}
	return e
}

// replace puts a symlink to target at p.
func symlinkAt(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestReadOwnServesWhatPpsyncWrote(t *testing.T) {
	e := newOwnEnv(t)
	out, err := e.own.Read(e.out, e.file)
	if err != nil || !out.HasDocument() || !strings.Contains(string(out.Data), "doc_mine") {
		t.Fatalf("Read = %+v, %v", out, err)
	}
	if _, err := e.own.Read(ResultPath(filepath.Join(e.inbox, "other.pdf")), ""); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotOwn) {
		t.Errorf("missing file: %v, want plain not-exist", err)
	}
	// A root that is itself a symlink (an administrator's choice) is fine.
	link := filepath.Join(filepath.Dir(e.inbox), "inbox-link")
	symlinkAt(t, e.inbox, link)
	viaLink := Own{Roots: []string{link}}
	if out, err := viaLink.Read(ResultPath(filepath.Join(link, "mine.pdf")), e.file); err != nil || !out.HasDocument() {
		t.Errorf("through a symlinked root: %+v, %v", out, err)
	}
	if e.logs.Len() > 0 {
		t.Errorf("logged for files ppsync wrote: %s", e.logs)
	}
}

// Every way of putting something ppsync did not write where it reads an
// output back: each is refused, reads as missing, is logged, and never
// yields the secret.
func TestReadOwnRefusesWhatPpsyncDidNotWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, e *ownEnv) (path, source string)
		unix  bool
	}{
		{"symlink to a file outside the inbox", func(t *testing.T, e *ownEnv) (string, string) {
			symlinkAt(t, e.secretFile, e.out)
			return e.out, e.file
		}, false},
		{"symlink to /proc/self/environ", func(t *testing.T, e *ownEnv) (string, string) {
			if _, err := os.Stat("/proc/self/environ"); err != nil {
				t.Skip("no /proc")
			}
			symlinkAt(t, "/proc/self/environ", e.out)
			return e.out, e.file
		}, false},
		{"relative symlink inside the inbox", func(t *testing.T, e *ownEnv) (string, string) {
			other := filepath.Join(e.inbox, "kept.json.bak")
			data, _ := os.ReadFile(e.secretFile)
			if err := os.WriteFile(other, data, 0o644); err != nil {
				t.Fatal(err)
			}
			symlinkAt(t, "kept.json.bak", e.out)
			return e.out, e.file
		}, false},
		{"symlinked folder on the way", func(t *testing.T, e *ownEnv) (string, string) {
			sub := filepath.Join(e.inbox, "sub")
			symlinkAt(t, e.private, sub)
			// private/mine.pdf.json records inbox/mine.pdf: make the path
			// name the same file name below the linked folder.
			return filepath.Join(sub, "mine.pdf.json"), filepath.Join(sub, "mine.pdf")
		}, false},
		{"hard link to a file outside the inbox", func(t *testing.T, e *ownEnv) (string, string) {
			if err := os.Remove(e.out); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(e.secretFile, e.out); err != nil {
				t.Skipf("hard links unavailable: %v", err)
			}
			return e.out, e.file
		}, true},
		{"a folder", func(t *testing.T, e *ownEnv) (string, string) {
			p := ResultPath(filepath.Join(e.inbox, "dir.pdf"))
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p, filepath.Join(e.inbox, "dir.pdf")
		}, false},
		{"a named pipe", func(t *testing.T, e *ownEnv) (string, string) {
			if err := os.Remove(e.out); err != nil {
				t.Fatal(err)
			}
			if err := mkfifo(e.out); err != nil {
				t.Skipf("named pipes unavailable: %v", err)
			}
			return e.out, e.file
		}, true},
		{"not a result", func(t *testing.T, e *ownEnv) (string, string) {
			if err := os.WriteFile(e.out, []byte(secret+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return e.out, e.file
		}, false},
		{"the result of another file", func(t *testing.T, e *ownEnv) (string, string) {
			data, _ := os.ReadFile(e.out)
			other := ResultPath(filepath.Join(e.inbox, "theirs.pdf"))
			data = bytes.ReplaceAll(data, []byte("doc_mine"), []byte(secret))
			if err := os.WriteFile(other, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return other, filepath.Join(e.inbox, "theirs.pdf")
		}, false},
		{"the result of another file, found by a scan", func(t *testing.T, e *ownEnv) (string, string) {
			data, _ := os.ReadFile(e.out)
			other := ResultPath(filepath.Join(e.inbox, "theirs.pdf"))
			data = bytes.ReplaceAll(data, []byte("doc_mine"), []byte(secret))
			if err := os.WriteFile(other, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return other, ""
		}, false},
		{"outside every root", func(t *testing.T, e *ownEnv) (string, string) {
			return e.secretFile, e.file
		}, false},
		{"dot-dot out of the root", func(t *testing.T, e *ownEnv) (string, string) {
			return e.inbox + string(filepath.Separator) + filepath.Join("..", "private", "mine.pdf.json"), e.file
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unix && runtime.GOOS == "windows" {
				t.Skip("unix only")
			}
			e := newOwnEnv(t)
			path, source := tc.setup(t, e)
			done := make(chan struct{})
			var out Output
			var err error
			go func() {
				defer close(done)
				out, err = e.own.Read(path, source)
			}()
			select {
			case <-done:
			case <-time.After(patience.Scale(30 * time.Second)):
				t.Fatal("Read blocked")
			}
			if err == nil || strings.Contains(string(out.Data), secret) || strings.Contains(string(out.Data), "doc_secret") {
				t.Fatalf("served %q, %v", out.Data, err)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not read as missing", err)
			}
			if !errors.Is(err, ErrNotOwn) {
				t.Errorf("error %v is not ErrNotOwn", err)
			}
			if !strings.Contains(e.logs.String(), "not one it wrote") {
				t.Errorf("not logged: %q", e.logs)
			}
		})
	}
}

// A file swapped between the look by name and the open: the file opened
// is not the one looked at, and is refused, even when it is itself a
// plausible result.
func TestReadOwnRefusesAFileSwappedWhileOpened(t *testing.T) {
	e := newOwnEnv(t)
	planted := filepath.Join(e.inbox, ".planted")
	data, _ := os.ReadFile(e.secretFile)
	if err := os.WriteFile(planted, data, 0o644); err != nil {
		t.Fatal(err)
	}
	own := e.own
	own.beforeOpen = func(string) {
		if err := os.Rename(planted, e.out); err != nil {
			t.Error(err)
		}
	}
	out, err := own.Read(e.out, e.file)
	if err == nil || strings.Contains(string(out.Data), secret) {
		t.Fatalf("served %q, %v", out.Data, err)
	}
	if !errors.Is(err, ErrNotOwn) || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("error %v", err)
	}
}

// A folder on the way swapped for a symlink after it was looked at.
func TestReadOwnRefusesAFolderSwappedWhileOpened(t *testing.T) {
	e := newOwnEnv(t)
	sub := filepath.Join(e.inbox, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "mine.pdf")
	if err := WriteResultAt(ResultPath(file), json.RawMessage(`{"document_id":"doc_sub"}`), Source{Path: file, SHA256: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	// Another folder inside the inbox with a plausible result: os.Root
	// would follow a link to it.
	other := filepath.Join(e.inbox, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteResultAt(ResultPath(filepath.Join(other, "mine.pdf")), json.RawMessage(`{"document_id":"doc_secret"}`), Source{Path: file, SHA256: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	calls := 0
	own := e.own
	own.beforeOpenDir = func(name string) {
		if calls++; calls == 1 && name == "sub" {
			if err := os.Rename(sub, sub+".old"); err != nil {
				t.Error(err)
			}
			if err := os.Symlink("other", sub); err != nil {
				t.Skipf("symlinks unavailable: %v", err)
			}
		}
	}
	out, err := own.Read(ResultPath(file), file)
	if err == nil || strings.Contains(string(out.Data), "doc_secret") {
		t.Fatalf("served %q, %v", out.Data, err)
	}
}

func TestSourceMatches(t *testing.T) {
	long := strings.Repeat("x", 250) + ".pdf"
	for _, tc := range []struct {
		name, recorded, source string
		want                   bool
	}{
		{"a.pdf.json", "/in/a.pdf", "/in/a.pdf", true},
		{"a.pdf.json", "/old/in/a.pdf", "/new/in/a.pdf", true}, // inbox moved
		{"a.pdf.json", "/in/b.pdf", "/in/a.pdf", false},
		{"a.pdf.json", "/in/a.pdf", "", true},
		{"a (2).pdf.json", "/in/a.pdf", "", true}, // moved with a counter
		{"a (2).pdf.error.json", "/in/a.pdf", "", true},
		{"b.pdf.json", "/in/a.pdf", "", false},
		{"a.pdf.error.json", "/in/a.pdf", "", true},
		{long[:200] + "~0123456789ab.error.json", "/in/" + long, "", true}, // shortened to fit
		{"zz~0123456789ab.error.json", "/in/" + long, "", false},
	} {
		if got := sourceMatches(tc.name, tc.recorded, tc.source); got != tc.want {
			t.Errorf("sourceMatches(%q, %q, %q) = %v", tc.name, tc.recorded, tc.source, got)
		}
	}
}
