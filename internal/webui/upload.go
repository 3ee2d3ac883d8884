package webui

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/watcher"
)

// UploadAnswer is the answer of a successful upload.
type UploadAnswer struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// upload saves the request body into an inbox: POST /ui/api/upload?inbox=N&name=F.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	if !s.o.Upload.Enabled {
		fail(w, http.StatusNotFound, "uploads are off: set [admin] upload = true in the config to allow them")
		return
	}
	inboxes := s.o.Reader.Inboxes()
	i, err := strconv.Atoi(r.URL.Query().Get("inbox"))
	if err != nil || i < 0 || i >= len(inboxes) {
		fail(w, http.StatusBadRequest, "inbox must be the number of a configured inbox")
		return
	}
	name, err := sanitizeName(r.URL.Query().Get("name"), s.o.Upload.Extensions)
	if err != nil {
		fail(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	if why := s.ignored(inboxes[i].Path, name); why != "" {
		fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("%q: inbox %s would ignore this file (%s): rename it and upload it again", name, inboxes[i].Path, why))
		return
	}
	if r.ContentLength > s.o.Upload.MaxBytes {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than the upload limit of %d MiB", name, s.o.Upload.MaxBytes>>20))
		return
	}
	size := r.ContentLength
	if size < 0 {
		size = s.o.Upload.MaxBytes
	}
	body := &paced{r: http.MaxBytesReader(w, r.Body, s.o.Upload.MaxBytes), rc: http.NewResponseController(w), stall: s.o.Upload.Stall,
		end: time.Now().Add(s.o.Upload.Stall + time.Duration(size/MinUploadRate)*time.Second)}
	path, n, err := saveAtomic(inboxes[i].Path, name, body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than the upload limit of %d MiB", name, s.o.Upload.MaxBytes>>20))
		return
	case errors.Is(err, errNotPDF):
		fail(w, http.StatusUnsupportedMediaType, name+": "+err.Error())
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Warn("upload cut: the browser stopped sending", "inbox", inboxes[i].Path, "file", name, "remote", r.RemoteAddr, "error", err)
		fail(w, http.StatusRequestTimeout, fmt.Sprintf("%s: the upload stalled (nothing arrived for %s, or slower than %d KiB/s): try again on a better link", name, s.o.Upload.Stall, MinUploadRate>>10))
		return
	case err != nil:
		s.log.Error("upload failed", "inbox", inboxes[i].Path, "file", name, "error", err)
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("file uploaded from the status page", "path", path, "bytes", n, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusCreated)
	writeJSON(w, UploadAnswer{Path: path, Size: n})
}

// paced reads an upload's body, giving the connection time for each read
// as bytes arrive (stall after the last one), up to end: the server's
// fixed read timeout would cut a large file on a slow link.
type paced struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
	end   time.Time
}

func (p *paced) Read(b []byte) (int, error) {
	d := time.Now().Add(p.stall)
	if d.After(p.end) {
		d = p.end
	}
	// Not every ResponseWriter has deadlines (a test recorder): then the
	// server's own apply.
	_ = p.rc.SetReadDeadline(d)
	_ = p.rc.SetWriteDeadline(d.Add(p.stall))
	return p.r.Read(b)
}

// ignored says why the inbox at dir would not pick up a file called name,
// or "" when it would.
func (s *server) ignored(dir, name string) string {
	if strings.HasPrefix(name, ".") {
		return "a name starting with '.' is a hidden file"
	}
	in := config.Inbox{Path: dir, Include: []string{"*"}, Exclude: config.DefaultExclude()}
	for _, c := range s.o.Upload.Inboxes {
		if filepath.Clean(c.Path) == filepath.Clean(dir) {
			in = c
		}
	}
	if !watcher.NewFilter(stageopts.Watcher(in)).File(filepath.Join(dir, name)) {
		return "its include and exclude patterns skip the name: temporary, lock (~$...) and hidden files are never read"
	}
	return ""
}

var errNotPDF = errors.New("the file does not start like a PDF (%PDF-): save or export it as PDF and try again")

// sanitizeName keeps the last element of a client's file name, without
// characters Windows or a shell would trip over, and checks its extension.
// A hidden name (".x.pdf") is refused, not renamed.
func sanitizeName(name string, exts []string) (string, error) {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("%q: a name starting with '.' is a hidden file, which the inbox ignores: rename it and upload it again", name)
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), " .")
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name[:len(name)-len(filepath.Ext(name))])
		ext := filepath.Ext(name)
		name = name[:len(name)-len(ext)-size] + ext
	}
	ext := strings.ToLower(filepath.Ext(name))
	if !slices.Contains(exts, ext) {
		return "", fmt.Errorf("%q: only %s files are accepted", name, strings.Join(exts, ", "))
	}
	if strings.TrimSuffix(name, filepath.Ext(name)) == "" {
		name = "upload" + ext
	}
	return name, nil
}

// saveAtomic writes body to a temp file in dir that the watcher ignores,
// syncs it, then links it to name (or "name (2)" and so on: an existing
// file is never replaced), so the inbox never shows a partial file. The
// file gets the permissions any program's new file gets there (0666 less
// the umask, default ACLs), not a temp file's 0600.
func saveAtomic(dir, name string, body io.Reader) (string, int64, error) {
	tmp, err := createTemp(dir)
	if err != nil {
		return "", 0, fmt.Errorf("upload into %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	var head [5]byte
	n, err := io.ReadFull(body, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		tmp.Close()
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", 0, err
		}
		return "", 0, fmt.Errorf("upload %s into %s: %w", name, dir, err)
	}
	if strings.EqualFold(filepath.Ext(name), ".pdf") && (err != nil || !bytes.Equal(head[:], []byte("%PDF-"))) {
		tmp.Close()
		return "", 0, errNotPDF
	}
	if _, err := tmp.Write(head[:n]); err != nil {
		tmp.Close()
		return "", 0, fmt.Errorf("upload %s into %s: %w", name, dir, err)
	}
	rest, err := io.Copy(tmp, body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("upload %s into %s: %w", name, dir, err)
	}
	base, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
	for i := 1; i < 1000; i++ {
		cand := name
		if i > 1 {
			cand = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		dst := filepath.Join(dir, cand)
		err := os.Link(tmp.Name(), dst)
		if err == nil {
			return dst, int64(n) + rest, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		// Some shares have no hard links: rename, after checking the name
		// is free.
		if _, serr := os.Lstat(dst); serr == nil {
			continue
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return "", 0, fmt.Errorf("upload %s into %s: %w", name, dir, err)
		}
		return dst, int64(n) + rest, nil
	}
	return "", 0, fmt.Errorf("upload %s into %s: 999 files of that name already exist", name, dir)
}

// createTemp creates a new file in dir that the watcher ignores (a hidden
// ".upload.ppsync-*.tmp"), mode 0666 less the umask.
func createTemp(dir string) (*os.File, error) {
	for range 100 {
		f, err := os.OpenFile(filepath.Join(dir, ".upload.ppsync-"+rand.Text()+".tmp"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("cannot find a free temporary name")
}
