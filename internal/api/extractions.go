package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// Upload is one file of a submission. Open is called once per attempt, so a
// retried submission re-reads the content; the client never holds a whole
// file in memory.
type Upload struct {
	// Name is the filename sent to the API (a base name).
	Name string
	// Open returns the content to send.
	Open func() (io.ReadCloser, error)
	// SHA256, when set, is the hex digest the content must have. If the bytes
	// streamed differ (the file changed after it was hashed), the request is
	// aborted before it completes and the call returns *FileChangedError.
	SHA256 string
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

// multipartBody streams the form through a pipe: memory stays flat whatever
// the file sizes.
func multipartBody(parserID string, files []Upload) (io.ReadCloser, string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeForm(mw, parserID, files))
	}()
	return pr, mw.FormDataContentType(), nil
}

func writeForm(mw *multipart.Writer, parserID string, files []Upload) error {
	if err := mw.WriteField("parser_id", parserID); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFile(mw, f); err != nil {
			return err
		}
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func writeFile(mw *multipart.Writer, f Upload) error {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename="%s"`, quoteEscaper.Replace(f.Name)))
	h.Set("Content-Type", contentTypeFor(f.Name))
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return &SourceError{Name: f.Name, Err: err}
	}
	defer rc.Close()
	var hasher hash.Hash
	var w io.Writer = part
	if f.SHA256 != "" {
		hasher = sha256.New()
		w = io.MultiWriter(part, hasher)
	}
	if _, err := io.Copy(w, rc); err != nil {
		return &SourceError{Name: f.Name, Err: err}
	}
	if hasher != nil {
		if got := hex.EncodeToString(hasher.Sum(nil)); got != f.SHA256 {
			return &FileChangedError{Name: f.Name, Want: f.SHA256, Got: got}
		}
	}
	return nil
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
