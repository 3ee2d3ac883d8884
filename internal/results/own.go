package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ppsync/ppsync/internal/winpath"
)

// MaxOwnSize is the largest result or error file ReadOwn reads back: the
// API's answers are capped at 64 MiB, and a result holds one document,
// indented. A larger file is not one ppsync wrote.
const MaxOwnSize = 128 << 20

// ErrNotOwn means a path where ppsync reads back one of its outputs holds
// something it did not write there: a symlink, a hard link, a folder, a
// device, a file too large, or content that is not the result or error
// file of that source. Errors wrapping it also match fs.ErrNotExist: such
// a file is treated as missing and never served.
var ErrNotOwn = errors.New("not a result or error file ppsync wrote")

// notOwn is the error for a path refused by ReadOwn.
type notOwn struct {
	path, why string
}

func (e *notOwn) Error() string {
	return fmt.Sprintf("%s: %s: %v, so it is treated as missing and never served; remove it, and find out who put it there",
		e.path, e.why, ErrNotOwn)
}

func (e *notOwn) Is(target error) bool { return target == ErrNotOwn || target == fs.ErrNotExist }

// Output is a result or error file read back by ReadOwn.
type Output struct {
	// Data is the file's content, byte for byte.
	Data []byte
	// Result is set for a result file (<file>.json), Error for an error
	// file (<file>.error.json).
	Result *Result
	Error  *ErrorFile
	// Review is set for a held result (<file>.review.json).
	Review *Held
}

// Source is the source the output records.
func (o Output) Source() Source {
	if o.Result != nil {
		return o.Result.Source
	}
	if o.Error != nil {
		return o.Error.Source
	}
	if o.Review != nil {
		return o.Review.Source
	}
	return Source{}
}

// HasDocument reports whether o is a result file with a document in it.
func (o Output) HasDocument() bool {
	return o.Result != nil && len(o.Result.Document) > 0 && string(o.Result.Document) != "null"
}

// Own reads back outputs ppsync wrote, trusting nothing else it finds
// there: an inbox, a results_dir or a move destination is writable by
// others, and any name in it may be replaced by a link to a secret (the
// environment, the state file, /etc/shadow) at any moment.
type Own struct {
	// Roots are the folders ppsync writes outputs below: each inbox, its
	// results_dir, processed_dir and failed_dir. A root itself may be a
	// symlink (an administrator's choice); nothing below it may be.
	Roots []string
	// Log, when set, gets a warning for each path refused (with an
	// "error" attribute naming the path, so the daemon's log-once handler
	// writes each path once a window).
	Log *slog.Logger

	// beforeOpen and beforeOpenDir run between the look by name and the
	// open of the file and of each folder (tests: swap them in between).
	beforeOpen    func(rel string)
	beforeOpenDir func(name string)
}

// RootsOf lists the output roots of inboxes given as (path, results_dir,
// processed_dir, failed_dir) tuples, skipping empty ones.
func RootsOf(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		if d != "" {
			out = append(out, filepath.Clean(d))
		}
	}
	return out
}

// Read reads the output at path, which ppsync wrote for the file source
// (its path in the inbox, as the state records it; "" when unknown, as in a
// scan of a results folder: the output's own name must then be named after
// the source it records). The output is read only when:
//
//   - path lies below one of o.Roots, and no folder between that root and
//     the file is a symlink (os.Root confines the open to the root, and
//     each folder is opened and checked to be the one looked at by name);
//   - the file itself is a regular file, not a symlink, with one link (a
//     hard link is not something ppsync made by rename), at most
//     MaxOwnSize bytes, and the file opened is the file looked at (so a
//     swap between the check and the open is caught);
//   - its content is a result file (for a name ending in .json) or an
//     error file (.error.json) of ppsync whose recorded source is source
//     (compared by name, so an inbox moved or reached under another path
//     keeps its results).
//
// A missing file is an error wrapping fs.ErrNotExist; anything else refused
// wraps ErrNotOwn (which matches fs.ErrNotExist too) and is logged.
func (o Own) Read(path, source string) (Output, error) {
	out, err := o.read(path, source)
	var no *notOwn
	if errors.As(err, &no) && o.Log != nil {
		o.Log.Warn("a file where ppsync reads back its own output is not one it wrote; treated as missing", "path", path, "error", err)
	}
	return out, err
}

func (o Own) read(path, source string) (Output, error) {
	path = filepath.Clean(path)
	root, rel := o.rootOf(path)
	if root == "" {
		return Output{}, &notOwn{path, "it is not inside an inbox or a results folder ppsync writes to"}
	}
	// Most outputs looked for do not exist yet (a new file's result before
	// it is sent): one lookup answers that, instead of opening each folder
	// on the way. Where something is there, by any way, it is checked below.
	if _, err := os.Lstat(winpath.Sys(path)); errors.Is(err, fs.ErrNotExist) {
		return Output{}, wrapRead(path, err)
	}
	r, err := os.OpenRoot(winpath.Sys(root))
	if err != nil {
		return Output{}, fmt.Errorf("read %s: open %s: %w", path, root, err)
	}
	defer r.Close()
	parts := strings.Split(rel, string(filepath.Separator))
	for _, dir := range parts[:len(parts)-1] {
		next, err := o.openDir(r, dir)
		r.Close()
		if err != nil {
			return Output{}, wrapRead(path, err)
		}
		r = next
	}
	name := parts[len(parts)-1]
	byName, err := r.Lstat(name)
	if err != nil {
		return Output{}, wrapRead(path, err)
	}
	if !byName.Mode().IsRegular() {
		return Output{}, &notOwn{path, "it is a " + kindOf(byName.Mode()) + ", not a regular file"}
	}
	if o.beforeOpen != nil {
		o.beforeOpen(rel)
	}
	f, err := r.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return Output{}, wrapRead(path, err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return Output{}, fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case !os.SameFile(byName, opened):
		return Output{}, &notOwn{path, "it was replaced while it was being opened"}
	case !opened.Mode().IsRegular():
		return Output{}, &notOwn{path, "it is not a regular file"}
	case links(opened) > 1:
		return Output{}, &notOwn{path, fmt.Sprintf("it has %d hard links", links(opened))}
	case opened.Size() > MaxOwnSize:
		return Output{}, &notOwn{path, fmt.Sprintf("it is %d bytes, more than any result", opened.Size())}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxOwnSize+1))
	if err != nil {
		return Output{}, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxOwnSize {
		return Output{}, &notOwn{path, "it grew past the size of any result while it was read"}
	}
	out := Output{Data: data}
	if strings.HasSuffix(strings.ToLower(name), ReviewSuffix) {
		var h Held
		if json.Unmarshal(data, &h) != nil || len(h.Document) == 0 || len(h.Review) == 0 || h.Source.Path == "" {
			return Output{}, &notOwn{path, "its content is not a ppsync held result"}
		}
		out.Review = &h
	} else if strings.HasSuffix(strings.ToLower(name), ErrorSuffix) {
		var e ErrorFile
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" || e.Source.Path == "" {
			return Output{}, &notOwn{path, "its content is not a ppsync error file"}
		}
		out.Error = &e
	} else {
		var res struct {
			Result
			Document *json.RawMessage `json:"document"`
		}
		if json.Unmarshal(data, &res) != nil || res.Document == nil || res.Source.Path == "" {
			return Output{}, &notOwn{path, "its content is not a ppsync result file"}
		}
		res.Result.Document = *res.Document
		out.Result = &res.Result
	}
	recorded := out.Source().Path
	if !sourceMatches(name, recorded, source) {
		return Output{}, &notOwn{path, fmt.Sprintf("it records the source %q, not this file", recorded)}
	}
	return out, nil
}

// rootOf returns the deepest root holding path and path relative to it.
func (o Own) rootOf(path string) (root, rel string) {
	for _, r := range o.Roots {
		r = filepath.Clean(r)
		rl, err := filepath.Rel(r, path)
		if err != nil || rl == "." || !filepath.IsLocal(rl) {
			continue
		}
		if len(r) > len(root) {
			root, rel = r, rl
		}
	}
	return root, rel
}

// openDir opens the folder name inside r without following a symlink: it
// must be a folder by name, and the folder opened must be that one (a
// symlink put there after the look would lead elsewhere).
func (o Own) openDir(r *os.Root, name string) (*os.Root, error) {
	byName, err := r.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !byName.IsDir() {
		return nil, &notOwn{filepath.Join(r.Name(), name), "a folder on the way to it is a " + kindOf(byName.Mode())}
	}
	if o.beforeOpenDir != nil {
		o.beforeOpenDir(name)
	}
	next, err := r.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	opened, err := next.Stat(".")
	if err != nil || !os.SameFile(byName, opened) {
		next.Close()
		return nil, &notOwn{filepath.Join(r.Name(), name), "a folder on the way to it was replaced while it was being opened"}
	}
	return next, nil
}

// wrapRead names path in err; a path escaping its root through a link is
// refused as not ppsync's.
func wrapRead(path string, err error) error {
	var no *notOwn
	switch {
	case errors.As(err, &no):
		return &notOwn{path, no.why}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read %s: %w", path, err)
	case strings.Contains(err.Error(), "escapes from parent"), strings.Contains(err.Error(), "too many levels of symbolic links"),
		strings.Contains(err.Error(), "symbolic link"):
		return &notOwn{path, "it leads out of its folder through a link"}
	}
	return fmt.Errorf("read %s: %w", path, err)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsRegular():
		return "regular file"
	}
	return "special file"
}

// fitted matches an output name shortened to fit the name limit: the start
// of the name, "~" and twelve hex digits (see finish's fitName).
var fitted = regexp.MustCompile(`^(.*)~[0-9a-f]{12}$`)

// counted matches a name given a counter by a move that found the name
// taken: "a (1).pdf" for "a.pdf".
var counted = regexp.MustCompile(`^(.*) \(\d+\)(\.[^.]*)?$`)

// sourceMatches reports whether an output named name, recording the source
// recorded, belongs to source (or, with source "", is named after the
// source it records). Names are compared, not folders: an inbox moved or
// reached under another path keeps its results.
func sourceMatches(name, recorded, source string) bool {
	rb := filepath.Base(recorded)
	if source != "" {
		return recorded == source || rb == filepath.Base(source)
	}
	stem := name
	for _, s := range []string{ErrorSuffix, ReviewSuffix, ResultSuffix} {
		if len(stem) > len(s) && strings.EqualFold(stem[len(stem)-len(s):], s) {
			stem = stem[:len(stem)-len(s)]
			break
		}
	}
	if stem == rb {
		return true
	}
	if m := counted.FindStringSubmatch(stem); m != nil && m[1]+m[2] == rb {
		return true
	}
	if m := fitted.FindStringSubmatch(stem); m != nil && (strings.HasPrefix(rb+ErrorSuffix, m[1]) || strings.HasPrefix(rb+ResultSuffix, m[1])) {
		return true
	}
	return false
}
