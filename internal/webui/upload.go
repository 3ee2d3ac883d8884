package webui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if r.ContentLength > s.o.Upload.MaxBytes {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than the upload limit of %d MiB", name, s.o.Upload.MaxBytes>>20))
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.o.Upload.MaxBytes)
	path, n, err := saveAtomic(inboxes[i].Path, name, body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than the upload limit of %d MiB", name, s.o.Upload.MaxBytes>>20))
		return
	case errors.Is(err, errNotPDF):
		fail(w, http.StatusUnsupportedMediaType, name+": "+err.Error())
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

var errNotPDF = errors.New("the file does not start like a PDF (%PDF-): save or export it as PDF and try again")

// sanitizeName keeps the last element of a client's file name, without
// characters Windows or a shell would trip over, and checks its extension.
func sanitizeName(name string, exts []string) (string, error) {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
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
// file is never replaced), so the inbox never shows a partial file.
func saveAtomic(dir, name string, body io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(dir, ".upload.ppsync-*.tmp")
	if err != nil {
		return "", 0, fmt.Errorf("upload into %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	var head [5]byte
	n, err := io.ReadFull(body, head[:])
	if strings.EqualFold(filepath.Ext(name), ".pdf") && (err != nil || !bytes.Equal(head[:], []byte("%PDF-"))) {
		tmp.Close()
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", 0, err
		}
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
