package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"iter"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// Upload is one file of a submission. Open is called once per attempt, so a
// retried submission re-reads the content; the client never holds a whole
// file in memory.
type Upload struct {
	// Name is the filename sent to the API (a base name).
	Name string
	// ContentType is the part's MIME type, from the recognised format
	// ("application/pdf", "image/png", ...); empty takes it from Name's
	// extension.
	ContentType string
	// Open returns the content to send.
	Open func() (io.ReadCloser, error)
	// SHA256, when set, is the hex digest the content must have. If the bytes
	// streamed differ (the file changed after it was hashed), the request is
	// aborted before it completes and the call returns *FileChangedError.
	SHA256 string
	// Size is the content's length in bytes; 0 takes it from the opened
	// content when that is a regular file (*os.File). With every size known
	// the request carries Content-Length, else it is sent chunked.
	Size int64
}

// FileChangedError says an upload's content no longer matches its hash.
type FileChangedError struct {
	Name string
	Want string
	Got  string
}

func (e *FileChangedError) Error() string {
	return fmt.Sprintf("file %q changed while it was being uploaded (sha256 %s…, expected %s…); the upload was aborted before it completed and will start over",
		e.Name, short(e.Got), short(e.Want))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// SourceError says an upload's content could not be read (the file was
// deleted or became unreadable after it was queued). The request was
// aborted before it completed; nothing was sent in full.
type SourceError struct {
	Name string
	Err  error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("cannot read %q for upload: %v", e.Name, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// Submission is the answer to POST /v1/extractions.
type Submission struct {
	Extraction apitypes.Extraction
	// Replayed is true when the server answered from its idempotency cache
	// (header Idempotent-Replayed: true): nothing new was charged.
	Replayed bool
}

// ErrTooManyFiles is returned before any request for a batch over 50 files.
var ErrTooManyFiles = errors.New("a submission holds at most 50 files")

// Submit calls POST /v1/extractions with up to 50 files, streamed from their
// Open functions as multipart/form-data. With an idempotency key, an
// ambiguous failure (network error, 5xx, timeout) is retried with the same
// key; without one it is not retried, since the server may have charged.
func (c *Client) Submit(ctx context.Context, parserID, idempotencyKey string, files []Upload) (Submission, error) {
	const route = "POST /v1/extractions"
	if len(files) == 0 {
		return Submission{}, fmt.Errorf("%s: no files to submit", route)
	}
	if len(files) > apitypes.MaxFilesPerSubmission {
		return Submission{}, fmt.Errorf("%s: %d files: %w", route, len(files), ErrTooManyFiles)
	}
	var env apitypes.ExtractionEnvelope
	resp, err := c.do(ctx, request{
		method:     http.MethodPost,
		path:       "/v1/extractions",
		route:      route,
		submission: true,
		idemKey:    idempotencyKey,
		retry:      idempotencyKey != "",
		body: func() (io.ReadCloser, string, error) {
			return multipartBody(parserID, files)
		},
	}, &env)
	if err != nil {
		return Submission{}, err
	}
	return Submission{
		Extraction: env.Extraction,
		Replayed:   strings.EqualFold(resp.header.Get(apitypes.HeaderIdempotentReplayed), "true"),
	}, nil
}

// sizedBody is a request body whose length is known before the first byte
// is sent; the client sends it with Content-Length instead of chunked.
type sizedBody struct {
	io.ReadCloser
	n int64
}

// ContentLength is the exact number of bytes the body yields.
func (b *sizedBody) ContentLength() int64 { return b.n }

// sized gives a small body Content-Length: a JSON body is read into memory
// and sent with its length instead of chunked, which some gateways refuse
// (411 Length Required).
func sized(body func() (io.ReadCloser, string, error)) func() (io.ReadCloser, string, error) {
	return func() (io.ReadCloser, string, error) {
		rc, ctype, err := body()
		if err != nil {
			return nil, "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, "", fmt.Errorf("build request body: %w", err)
		}
		return &sizedBody{ReadCloser: io.NopCloser(bytes.NewReader(b)), n: int64(len(b))}, ctype, nil
	}
}

// source is one opened upload and its size (-1: unknown).
type source struct {
	rc   io.ReadCloser
	size int64
}

// multipartBody yields the form as the transport reads it: no goroutine or
// pipe stands between the files and the connection, and memory stays flat
// whatever the file sizes. Every file is opened first, so the request's
// length is computed from the multipart framing and the file sizes before
// the first byte is sent (gateways that refuse chunked bodies accept it); a
// file whose size is unknown makes the body chunked.
func multipartBody(parserID string, files []Upload) (io.ReadCloser, string, error) {
	srcs := make([]source, 0, len(files))
	known := true
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			closeSources(srcs)
			return nil, "", &SourceError{Name: f.Name, Err: err}
		}
		src := source{rc: rc, size: sizeOf(f, rc)}
		known = known && src.size >= 0
		srcs = append(srcs, src)
	}
	fr, ctype, err := newFormReader(parserID, files, srcs)
	if err != nil {
		closeSources(srcs)
		return nil, "", err
	}
	if !known {
		return fr, ctype, nil
	}
	return &sizedBody{ReadCloser: fr, n: fr.length()}, ctype, nil
}

func closeSources(srcs []source) {
	for _, s := range srcs {
		s.rc.Close()
	}
}

// sizeOf is the upload's declared size, else the opened file's, else -1.
func sizeOf(f Upload, rc io.ReadCloser) int64 {
	if f.Size > 0 {
		return f.Size
	}
	if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}

// formReader reads a multipart form: the framing before each file (the
// parser_id field and the part's header), the file, and so on, then the
// closing boundary. The framing is built once, up front, by
// mime/multipart itself. A file of known size yields exactly that many
// bytes: one that grew or shrank since it was opened, or whose bytes differ
// from its SHA256, ends the body with an error before it completes, so the
// server never gets a whole request.
type formReader struct {
	mu     sync.Mutex
	files  []Upload
	srcs   []source
	frames [][]byte // frames[i] precedes file i; the last one ends the form
	i      int      // the file being read, or the frame before it
	frame  []byte   // what is left of the frame being read
	inFile bool
	left   int64     // bytes of the file left to read (known size)
	read   int64     // bytes of the file read
	hasher hash.Hash // the file's SHA256 as read, when it has one to match
	err    error     // once set, every Read returns it
	closed bool
}

func newFormReader(parserID string, files []Upload, srcs []source) (*formReader, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("parser_id", parserID); err != nil {
		return nil, "", err
	}
	frames := make([][]byte, 0, len(files)+1)
	mark := 0
	for _, f := range files {
		if _, err := mw.CreatePart(partHeader(f)); err != nil {
			return nil, "", err
		}
		frames = append(frames, buf.Bytes()[mark:buf.Len():buf.Len()])
		mark = buf.Len()
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	frames = append(frames, buf.Bytes()[mark:])
	return &formReader{files: files, srcs: srcs, frames: frames, frame: frames[0]}, mw.FormDataContentType(), nil
}

// length is the form's length in bytes when every file's size is known.
func (r *formReader) length() int64 {
	var n int64
	for _, f := range r.frames {
		n += int64(len(f))
	}
	for _, s := range r.srcs {
		n += s.size
	}
	return n
}

func (r *formReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(p) > 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(r.frame) > 0 {
			n := copy(p, r.frame)
			r.frame = r.frame[n:]
			return n, nil
		}
		if !r.inFile {
			if r.i == len(r.files) {
				r.err = io.EOF
				continue
			}
			r.startFile()
			continue
		}
		n, done, err := r.readFile(p)
		if err != nil {
			r.err = err
			continue
		}
		if done {
			r.inFile = false
			r.i++
			r.frame = r.frames[r.i]
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, nil
}

func (r *formReader) startFile() {
	r.inFile, r.read, r.left, r.hasher = true, 0, r.srcs[r.i].size, nil
	if r.files[r.i].SHA256 != "" {
		r.hasher = sha256.New()
	}
}

// readFile reads the current file into p; done once it is read whole and
// found as it was declared.
func (r *formReader) readFile(p []byte) (n int, done bool, err error) {
	f, src := r.files[r.i], r.srcs[r.i]
	if src.size >= 0 && r.left == 0 {
		return 0, true, r.endKnown(f, src)
	}
	if src.size >= 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err = src.rc.Read(p)
	if n > 0 {
		r.read += int64(n)
		r.left -= int64(n)
		if r.hasher != nil {
			r.hasher.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF && src.size >= 0:
		if r.left > 0 {
			return n, false, r.changed(f, src)
		}
		return n, false, nil // the size is reached: endKnown looks for more
	case err == io.EOF:
		return n, true, r.matches(f)
	case err != nil:
		return n, false, &SourceError{Name: f.Name, Err: err}
	}
	return n, false, nil
}

// endKnown checks that a file of known size ends where it was declared to
// and has the bytes of its SHA256. What follows the declared size is read
// in small pieces: a file that did not grow ends at once.
func (r *formReader) endKnown(f Upload, src source) error {
	var rest io.Writer = io.Discard
	if r.hasher != nil {
		rest = r.hasher
	}
	extra, err := io.CopyBuffer(rest, struct{ io.Reader }{src.rc}, make([]byte, 512))
	if err != nil {
		return &SourceError{Name: f.Name, Err: err}
	}
	if extra > 0 {
		r.read += extra
		return r.changed(f, src)
	}
	return r.matches(f)
}

// changed is the error of a file whose size is not the one declared.
func (r *formReader) changed(f Upload, src source) error {
	if r.hasher != nil {
		return &FileChangedError{Name: f.Name, Want: f.SHA256, Got: hex.EncodeToString(r.hasher.Sum(nil))}
	}
	return &SourceError{Name: f.Name, Err: fmt.Errorf("its size changed from %d to %d bytes while it was being sent", src.size, r.read)}
}

// matches checks a file read whole against its SHA256, if it has one.
func (r *formReader) matches(f Upload) error {
	if r.hasher == nil {
		return nil
	}
	if got := hex.EncodeToString(r.hasher.Sum(nil)); got != f.SHA256 {
		return &FileChangedError{Name: f.Name, Want: f.SHA256, Got: got}
	}
	return nil
}

// Close closes every file; reads after it fail.
func (r *formReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	closeSources(r.srcs)
	if r.err == nil {
		r.err = errors.New("multipart body: read after close")
	}
	return nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func partHeader(f Upload) textproto.MIMEHeader {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename="%s"`, quoteEscaper.Replace(f.Name)))
	ct := f.ContentType
	if ct == "" {
		ct = contentTypeFor(f.Name)
	}
	h.Set("Content-Type", ct)
	return h
}

func contentTypeFor(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(n, ".png"):
		return "image/png"
	case strings.HasSuffix(n, ".jpg"), strings.HasSuffix(n, ".jpeg"):
		return "image/jpeg"
	case strings.HasSuffix(n, ".webp"):
		return "image/webp"
	}
	return "application/octet-stream"
}

// ListOptions filters GET /v1/extractions.
type ListOptions struct {
	ParserID string
	Status   string
	// Since returns extractions updated after this time (zero: no filter).
	Since time.Time
	// Limit is the page size (default 50, max 100).
	Limit int
}

func (o ListOptions) query(cursor string) url.Values {
	q := url.Values{}
	if o.ParserID != "" {
		q.Set("parser_id", o.ParserID)
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(apitypes.TimeFormat))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(o.Limit, 100)))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// ListExtractions fetches one page of GET /v1/extractions.
func (c *Client) ListExtractions(ctx context.Context, o ListOptions, cursor string) (apitypes.ExtractionList, error) {
	var out apitypes.ExtractionList
	err := c.getJSON(ctx, "/v1/extractions", "GET /v1/extractions", o.query(cursor), &out)
	return out, err
}

// Extractions iterates over every extraction matching o, following cursors
// until has_next_page is false. Iteration stops at the first error, which is
// yielded with a zero Extraction.
func (c *Client) Extractions(ctx context.Context, o ListOptions) iter.Seq2[apitypes.Extraction, error] {
	return func(yield func(apitypes.Extraction, error) bool) {
		cursor := ""
		seen := map[string]bool{}
		for {
			page, err := c.ListExtractions(ctx, o, cursor)
			if err != nil {
				yield(apitypes.Extraction{}, err)
				return
			}
			for _, e := range page.Extractions {
				if seen[e.ExtractionID] {
					continue // an item that moved between pages
				}
				seen[e.ExtractionID] = true
				if !yield(e, nil) {
					return
				}
			}
			if !page.Pagination.HasNextPage || page.Pagination.NextCursor == nil || *page.Pagination.NextCursor == "" ||
				*page.Pagination.NextCursor == cursor {
				return
			}
			cursor = *page.Pagination.NextCursor
		}
	}
}
