package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/safeopen"
)

// Location is where a tracked file is on disk.
type Location = control.Location

// locate finds a tracked file through the Reader.
func (s *server) locate(ctx context.Context, path string) (Location, error) {
	return s.o.Reader.Locate(ctx, path)
}

// inbox is the configured inbox at path.
func (s *server) inbox(path string) (config.Inbox, bool) {
	for _, in := range s.o.Inboxes {
		if in.Path == path {
			return in, true
		}
	}
	return config.Inbox{}, false
}

// original answers GET /ui/api/original?path=...: the source file of a
// tracked file, to see beside its data. Only a path the state knows, in a
// configured inbox, is served, read where it is now: in the inbox, or in
// the inbox's processed_dir or failed_dir where after = "move" took it.
// It is opened below that folder only and never through a link
// (safeopen.OpenBelow), and served by ServeOriginal.
func (s *server) original(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	loc, err := s.locate(r.Context(), path)
	if failLookup(w, err) {
		return
	}
	in, ok := s.inbox(loc.Inbox)
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("%s: its inbox %s is not configured any more, so the file is not shown", path, loc.Inbox))
		return
	}
	type place struct{ dir, path string }
	var places []place
	if loc.MovedTo != "" {
		for _, d := range []string{in.ProcessedDir, in.FailedDir} {
			if d != "" && within(d, loc.MovedTo) {
				places = append(places, place{d, loc.MovedTo})
			}
		}
	}
	places = append(places, place{in.Path, loc.Path})
	for _, p := range places {
		f, err := safeopen.OpenBelow(p.dir, p.path)
		switch {
		case err == nil:
			defer f.Close()
			ServeOriginal(w, r, f)
			return
		case errors.Is(err, safeopen.ErrLink):
			s.log.Warn("original not served: reached through a link", "file", p.path, "remote", r.RemoteAddr)
			fail(w, http.StatusForbidden, err.Error()+"; find out who put the link there")
			return
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, safeopen.ErrOutside):
		default:
			fail(w, http.StatusInternalServerError, fmt.Sprintf("%v: check that the ppsync user may read it", err))
			return
		}
	}
	fail(w, http.StatusNotFound, fmt.Sprintf("%s is no longer on disk (deleted or moved away by someone else), so it cannot be shown", loc.Path))
}

// within tells whether path is inside dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}

// inlineTypes are the types a browser is let show inline: what ppsync
// sends to the API. Anything else (an HTML page, an SVG with a script) is
// only ever a download.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/webp": true, "image/gif": true,
}

// TypeOf is the Content-Type a source file is served with, from its first
// bytes (never from its name: an HTML page named invoice.pdf is not a
// PDF), and whether it may be shown inline: a PDF or a photo. Anything else
// is application/octet-stream, to download.
func TypeOf(head []byte) (contentType string, show bool) {
	ct, _, _ := strings.Cut(http.DetectContentType(head), ";")
	if inlineTypes[ct] {
		return ct, true
	}
	return "application/octet-stream", false
}

// Disposition is a Content-Disposition header of kind ("inline" or
// "attachment") for a file called name: an ASCII filename, and the name
// as it is in filename*.
func Disposition(kind, name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, kind, ascii, url.PathEscape(name))
}

// Policies of a served file. A photo, a download or a ledger is sandboxed:
// no script, no form, no plugin, an origin of its own. A PDF cannot be: a
// browser refuses to run its PDF viewer in a sandbox (Chromium shows a
// blank page), so a PDF gets a policy that allows no script, no plugin, no
// form and no base in the document that holds the viewer; the viewer is
// the browser's own and gives a script in the file no access to the page.
const (
	PolicySandboxed = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
	PolicyPDF       = "default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

// ServeOriginal sends f, a source file opened with safeopen.OpenBelow: a
// PDF or a photo inline with the type its content has, anything else as a
// download of application/octet-stream; never sniffed by the browser
// (nosniff), never scripted (PolicySandboxed, PolicyPDF), shown in a frame
// of this origin only, never cached. The review's original is served by it
// too.
func ServeOriginal(w http.ResponseWriter, r *http.Request, f *os.File) {
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, fmt.Sprintf("read %s: %v: check that the ppsync user may read it", f.Name(), err), http.StatusInternalServerError)
		return
	}
	ct, show := TypeOf(head[:n])
	disp, policy := "attachment", PolicySandboxed
	if show {
		disp = "inline"
		if ct == "application/pdf" {
			policy = PolicyPDF
		}
	}
	serveFile(w, r, f, ct, disp, policy)
}

// serveFile sends f with its headers; the guard's X-Frame-Options DENY
// becomes SAMEORIGIN, so that the page can show it in a frame.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, ct, disp, policy string) {
	st, err := f.Stat()
	if err != nil {
		http.Error(w, fmt.Sprintf("%s: %v", f.Name(), err), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", Disposition(disp, filepath.Base(f.Name())))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", st.ModTime(), io.NewSectionReader(f, 0, st.Size()))
}
