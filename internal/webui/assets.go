package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// asset is one static file, ready to send: its bytes, gzipped when that is
// smaller, and its content type.
type asset struct {
	data, gz []byte
	ctype    string
	hashed   string // its name with a content hash, such as "app.3f2a9c01d4.js"
}

// assets are the embedded static files. Each is served under its own name
// (revalidated on every use) and under a name with a hash of its content
// (cached for a year: a new build has new names), gzipped for a client that
// accepts it. The page names the hashed ones.
type assets struct {
	byName   map[string]*asset // "app.js", "i18n/de.json"
	byHashed map[string]*asset // "app.3f2a9c01d4.js"
	page     map[string][]byte // index.html for each language
	langs    []language.Tag    // the catalogues, English first
	matcher  language.Matcher
}

// loadAssets reads the static files of sub once, at start.
func loadAssets(sub fs.FS) *assets {
	a := &assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}, page: map[string][]byte{}}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(p)
		x := &asset{data: b, ctype: mime.TypeByExtension(ext), hashed: strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:5]) + ext}
		if x.ctype == "" {
			x.ctype = "application/octet-stream"
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			x.gz = buf.Bytes()
		}
		a.byName[p], a.byHashed[x.hashed] = x, x
		return nil
	})
	a.langs = []language.Tag{language.English}
	for name := range a.byName {
		if l, ok := strings.CutPrefix(name, "i18n/"); ok && strings.HasSuffix(l, ".json") {
			if tag, err := language.Parse(strings.TrimSuffix(l, ".json")); err == nil && tag != language.English {
				a.langs = append(a.langs, tag)
			}
		}
	}
	a.matcher = language.NewMatcher(a.langs)
	html := string(a.byName["index.html"].data)
	for name, x := range a.byName {
		html = strings.ReplaceAll(html, `"/ui/static/`+name+`"`, `"/ui/static/`+x.hashed+`"`)
	}
	for _, tag := range a.langs {
		b, _ := tag.Base()
		lang := b.String()
		attrs := `lang="` + lang + `"`
		if c := a.byName["i18n/"+lang+".json"]; c != nil {
			attrs += ` data-catalogue="/ui/static/` + c.hashed + `"`
		}
		a.page[lang] = []byte(strings.Replace(html, `lang="en"`, attrs, 1))
	}
	return a
}

// lang is the catalogue for the request's Accept-Language.
func (a *assets) lang(r *http.Request) string {
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, _ := a.matcher.Match(tags...)
	b, _ := a.langs[i].Base()
	return b.String()
}

// servePage answers "/": the page in the request's language.
func (a *assets) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Language, Accept-Encoding")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	send(w, r, &asset{data: a.page[a.lang(r)], ctype: "text/html; charset=utf-8"})
}

// serveStatic answers /ui/static/NAME: a hashed name for a year, a plain
// one revalidated each time.
func (a *assets) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/static/")
	x, immutable := a.byHashed[name]
	if !immutable {
		x = a.byName[name]
	}
	if x == nil || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	if immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("Vary", "Accept-Encoding")
	send(w, r, x)
}

// serveFavicon answers /favicon.ico with the page's icon.
func (a *assets) serveFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	send(w, r, a.byName["favicon.svg"])
}

func send(w http.ResponseWriter, r *http.Request, x *asset) {
	w.Header().Set("Content-Type", x.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	body := x.data
	if x.gz != nil && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		body = x.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
