// Package filecheck decides, before anything is uploaded, whether a file in
// an inbox is one the API reads: a PDF (checked by pdfcheck) or a PNG, JPEG
// or WebP image (header, dimensions and completeness checked here). It also
// gives the watcher a cheap "is the writer done" test for every type and the
// uploader the content type and page count (one credit an image).
package filecheck

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Kind is a file format as recognised from its content.
type Kind string

// Formats the API reads.
const (
	KindPDF  Kind = "pdf"
	KindPNG  Kind = "png"
	KindJPEG Kind = "jpeg"
	KindWebP Kind = "webp"
)

// Formats recognised only to be refused with advice.
const (
	kindUnknown Kind = ""
	kindHEIF    Kind = "heif"
	kindAVIF    Kind = "avif"
	kindTIFF    Kind = "tiff"
	kindGIF     Kind = "gif"
	kindBMP     Kind = "bmp"
	kindVideo   Kind = "video"
)

// Problem codes written to <file>.error.json (beside pdfcheck's codes, which
// Inspect passes through for PDFs).
const (
	CodeEmpty        = pdfcheck.CodeEmpty
	CodeTooLarge     = pdfcheck.CodeTooLarge
	CodeTooManyPages = pdfcheck.CodeTooManyPages
	CodeUnsupported  = "UNSUPPORTED_FILE_TYPE"
	CodeTruncated    = "TRUNCATED_IMAGE"
	CodeDamaged      = "DAMAGED_IMAGE"
	CodeMismatch     = "FILE_TYPE_MISMATCH"
	// CodeValidationCrashed refuses a file whose validation stopped
	// ppsync before (see Journal).
	CodeValidationCrashed = "VALIDATION_CRASHED"
)

// Problem is why a file was refused locally; its Message says what to do.
// It is pdfcheck's type, so callers handle PDFs and images alike.
type Problem = pdfcheck.Problem

// BufferSize is the room Options.Buffer needs (pdfcheck.BufferSize).
const BufferSize = pdfcheck.BufferSize

// DefaultTypes are the file-name patterns an inbox accepts unless its
// `types` setting says otherwise.
func DefaultTypes() []string { return []string{"*.pdf", "*.png", "*.jpg", "*.jpeg", "*.webp"} }

// RefusedPatterns name formats people commonly drop into an inbox that the
// API does not read. An inbox without an explicit include list watches them
// too, so that each gets an error file saying what to convert to instead of
// being silently ignored.
func RefusedPatterns() []string {
	return []string{"*.heic", "*.heif", "*.avif", "*.tif", "*.tiff", "*.gif", "*.bmp"}
}

// Options tune Inspect.
type Options struct {
	// Types are the accepted file-name patterns (case-insensitive globs
	// such as "*.png"); empty means DefaultTypes.
	Types []string
	// MaxSize refuses larger files (0: no limit).
	MaxSize int64
	// MaxPages refuses PDFs with more pages (0: no limit).
	MaxPages int
	// Journal, when set, records each PDF's validation while it runs (see
	// Journal).
	Journal Journal
	// MarkAfter is how long a validation runs before the journal marks it
	// (0: 100 ms; negative: at once).
	MarkAfter time.Duration
	// Buffer is room for reading a PDF that the caller owns and reuses
	// from one call to the next (pdfcheck.Options.Buffer).
	Buffer []byte
}

// Journal remembers which file is being validated, so that a file whose
// validation stopped ppsync (a crash, memory exhausted, a kill) in two runs
// in a row is refused with CodeValidationCrashed when it is met again,
// instead of stopping ppsync at every start. *state.Store is one.
type Journal interface {
	// CheckValidation says how many runs stopped while validating this
	// life (size, mtime) of path, whether to refuse it (since: when the
	// last of them began), and whether a mark of it is there.
	CheckValidation(path string, size, mtime int64) (prior int, since time.Time, refuse, marked bool, err error)
	// BeginValidation marks this life of path as being validated.
	BeginValidation(path string, size, mtime int64, prior int) error
	// EndValidation clears the mark.
	EndValidation(path string) error
}

// markAfter is how long a PDF's validation runs before it is marked in
// the journal. A validation that brings ppsync down runs long (it fills
// memory or the stack first); the quick ones, nearly all, cost no write.
const markAfter = 100 * time.Millisecond

// Info is what an acceptable file yields.
type Info struct {
	Kind        Kind
	ContentType string // MIME type to send with the upload
	SHA256      string // hex of the whole file
	Size        int64
	Pages       int // credits the API charges: pages of a PDF, 1 for an image
	Width       int // images only, in pixels
	Height      int
}

// ContentType is the MIME type of an accepted kind ("" for others).
func ContentType(k Kind) string {
	switch k {
	case KindPDF:
		return "application/pdf"
	case KindPNG:
		return "image/png"
	case KindJPEG:
		return "image/jpeg"
	case KindWebP:
		return "image/webp"
	}
	return ""
}

// ContentTypeOf recognises the file at path from its first bytes and
// returns the MIME type to send with its upload ("" when it is not a format
// the API reads).
func ContentTypeOf(path string) (string, error) {
	head, _, err := readHead(path)
	if err != nil {
		return "", err
	}
	return ContentType(sniff(head)), nil
}

// kindOfName is the accepted kind a file's extension claims.
func kindOfName(name string) Kind {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return KindPDF
	case ".png":
		return KindPNG
	case ".jpg", ".jpeg", ".jpe", ".jfif":
		return KindJPEG
	case ".webp":
		return KindWebP
	}
	return kindUnknown
}

// refusedKindOfName is the refused format a file's extension claims, so
// that a damaged HEIC still gets the advice to convert it.
func refusedKindOfName(name string) Kind {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".heic", ".heif":
		return kindHEIF
	case ".avif":
		return kindAVIF
	case ".tif", ".tiff":
		return kindTIFF
	case ".gif":
		return kindGIF
	case ".bmp":
		return kindBMP
	}
	return kindUnknown
}

// Accepted reports whether name matches one of the patterns (DefaultTypes
// when none), case-insensitively on the base name.
func Accepted(types []string, name string) bool {
	if len(types) == 0 {
		types = DefaultTypes()
	}
	base := strings.ToLower(filepath.Base(name))
	for _, p := range types {
		if ok, _ := filepath.Match(strings.ToLower(p), base); ok {
			return true
		}
	}
	return false
}

// headSize is how much of a file is read to recognise its format.
const headSize = 1024

// sniff recognises a format from the first bytes of a file.
func sniff(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return KindPNG
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return KindJPEG
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return KindWebP
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		switch string(head[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "mif2", "miaf":
			return kindHEIF
		case "avif", "avis":
			return kindAVIF
		}
		return kindVideo
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return kindTIFF
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return kindGIF
	case len(head) >= 26 && bytes.HasPrefix(head, []byte("BM")):
		return kindBMP
	case bytes.Contains(head, []byte("%PDF-")):
		return KindPDF
	}
	return kindUnknown
}

// startsLike reports whether head, too short to be recognised, is the
// beginning of a file of kind k: a copy that has only just started.
func startsLike(k Kind, head []byte) bool {
	var sig string
	switch k {
	case KindPNG:
		sig = "\x89PNG\r\n\x1a\n"
	case KindJPEG:
		sig = "\xff\xd8\xff"
	case KindWebP:
		if len(head) >= 12 {
			return false
		}
		return strings.HasPrefix("RIFF", string(head[:min(len(head), 4)])) &&
			(len(head) <= 8 || strings.HasPrefix("WEBP", string(head[8:])))
	case KindPDF:
		sig = "%PDF-"
	default:
		return false
	}
	return len(head) < len(sig) && strings.HasPrefix(sig, string(head))
}

// convertAdvice is the message for a recognised format the API does not read.
func convertAdvice(k Kind) string {
	switch k {
	case kindHEIF:
		return "the file is a HEIC/HEIF photo (the iPhone's default format), which PerfectParser does not read: " +
			"convert it to JPEG or PDF and drop that instead; to have the phone save JPEG from now on: " +
			"on an iPhone, Settings → Camera → Formats → Most Compatible"
	case kindAVIF:
		return "the file is an AVIF image, which PerfectParser does not read: convert it to JPEG or PNG and drop that instead"
	case kindTIFF:
		return "the file is a TIFF image (common from scanners), which PerfectParser does not read: " +
			"convert it to PDF or PNG, or set the scanner to save PDF"
	case kindGIF:
		return "the file is a GIF image, which PerfectParser does not read: convert it to PNG and drop that instead"
	case kindBMP:
		return "the file is a BMP image, which PerfectParser does not read: convert it to PNG and drop that instead"
	case kindVideo:
		return "the file is a video or other ISO media file, not a document: save a photo (JPEG) or a PDF instead"
	}
	return "the file is not a PDF, PNG, JPEG or WebP image, the formats PerfectParser reads: convert it to PDF (or JPEG/PNG for a photo) and drop that instead"
}

// readHead opens path and reads its first bytes.
func readHead(path string) ([]byte, int64, error) {
	f, st, head, err := openHead(path)
	if err != nil {
		return nil, 0, err
	}
	f.Close()
	return head, st.Size(), nil
}

// openHead opens path and reads its first bytes; the file stays open for
// the caller to close, with what its fstat said.
func openHead(path string) (*os.File, os.FileInfo, []byte, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	head := make([]byte, min(st.Size(), headSize))
	if _, err := io.ReadFull(f, head); err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return f, st, head, nil
}

// Inspect hashes and validates the file at path. A *Problem error means the
// file is not acceptable (and never will be unless it changes): write its
// code and message to the error file and do not upload it. Any other error
// is an I/O failure worth retrying. On a Problem, Info still carries the
// hash and size when they could be read.
func Inspect(path string, o Options) (Info, error) {
	// The file is opened once: its head is read to recognise it, and a PDF
	// is validated and hashed through the same descriptor, under the size
	// and mtime of the same fstat.
	f, st, head, err := openHead(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	size := st.Size()
	switch {
	case size == 0:
		return Info{}, &Problem{Code: CodeEmpty, Message: "the file is empty (0 bytes): if a scanner or copy is still writing it, it is picked up again when it changes"}
	case o.MaxSize > 0 && size > o.MaxSize:
		return Info{Size: size}, &Problem{Code: CodeTooLarge, Message: fmt.Sprintf("the file is %d MiB, over the %d MiB limit per file: split it, or raise [upload] max_file_size if your PerfectParser plan allows larger files", size>>20, o.MaxSize>>20)}
	}
	got := sniff(head)
	named := kindOfName(path)
	if got == kindUnknown && startsLike(named, head) {
		got = named // too short to recognise: the end check reports it truncated
	}
	if got == kindUnknown {
		got = refusedKindOfName(path)
	}
	refuse := func(code, msg string) (Info, error) {
		sum, n, err := pdfcheck.HashFile(path)
		if err != nil {
			return Info{}, fmt.Errorf("hash %s: %w", path, err)
		}
		return Info{Kind: got, SHA256: sum, Size: n}, &Problem{Code: code, Message: msg}
	}
	if ContentType(got) == "" && got != kindUnknown {
		return refuse(CodeUnsupported, convertAdvice(got))
	}
	if !Accepted(o.Types, path) {
		what := "this kind of file"
		if got != kindUnknown {
			what = "a " + strings.ToUpper(string(got)) + " file"
		}
		types := o.Types
		if len(types) == 0 {
			types = DefaultTypes()
		}
		return refuse(CodeUnsupported, fmt.Sprintf("the file is %s and this inbox accepts only %s (the inbox's types setting): convert it to one of those, or add its pattern to types",
			what, strings.Join(types, ", ")))
	}
	switch {
	case got == kindUnknown && named == KindPDF:
		got = KindPDF // pdfcheck says why it is not a PDF
	case got == kindUnknown && named != kindUnknown:
		return refuse(CodeDamaged, fmt.Sprintf("the file is named %s but does not start like a %s image: it is damaged or another format renamed; export it again as %s and drop that instead",
			filepath.Ext(path), strings.ToUpper(string(named)), strings.ToUpper(string(named))))
	case got == kindUnknown:
		return refuse(CodeUnsupported, convertAdvice(got))
	case named != kindUnknown && named != got:
		return refuse(CodeMismatch, fmt.Sprintf("the file is a %s file but is named %s: rename it to %s and drop it again",
			strings.ToUpper(string(got)), filepath.Ext(path), suggestExt(got)))
	}
	if got == KindPDF {
		return inspectPDF(f, st, path, o)
	}
	return inspectImage(path, got, size)
}

// inspectPDF validates a PDF, open as f (st is its fstat), under the
// journal's mark when there is one.
func inspectPDF(f *os.File, st os.FileInfo, path string, o Options) (Info, error) {
	if o.Journal != nil {
		size, mtime := st.Size(), st.ModTime().UnixNano()
		prior, since, refuse, marked, err := o.Journal.CheckValidation(path, size, mtime)
		if err != nil {
			return Info{}, err
		}
		if refuse {
			return Info{Kind: KindPDF, ContentType: ContentType(KindPDF), Size: size}, &Problem{Code: CodeValidationCrashed, Message: fmt.Sprintf(
				"ppsync stopped (it crashed, ran out of memory or was killed) twice in a row while checking this file, the last time at %s, so it is not checked again lest it stop ppsync again: "+
					"split the file or save it again (a changed file is checked afresh), or run 'ppsync retry' on it to check it once more",
				since.Local().Format(time.RFC3339))}
		}
		after := o.MarkAfter
		if after == 0 {
			after = markAfter
		}
		m := &lateMark{j: o.Journal, path: path, size: size, mtime: mtime, prior: prior, marked: marked}
		if after < 0 || prior > 0 {
			m.begin() // a run stopped during it before: mark it at once
		} else {
			m.timer = time.AfterFunc(after, m.begin)
		}
		defer m.end()
	}
	pi, err := pdfcheck.InspectOpen(f, path, st.Size(), pdfcheck.Options{MaxSize: o.MaxSize, MaxPages: o.MaxPages, Buffer: o.Buffer})
	return Info{Kind: KindPDF, ContentType: ContentType(KindPDF), SHA256: pi.SHA256, Size: pi.Size, Pages: pi.Pages}, err
}

// lateMark writes a journal mark once a validation has run for a while,
// and clears it (or the mark a stopped run left) when it ends.
type lateMark struct {
	j            Journal
	path         string
	size, mtime  int64
	prior        int
	timer        *time.Timer
	mu           sync.Mutex
	marked, done bool
}

func (m *lateMark) begin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	if m.j.BeginValidation(m.path, m.size, m.mtime, m.prior) == nil {
		m.marked = true
	}
}

func (m *lateMark) end() {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = true
	if m.marked {
		_ = m.j.EndValidation(m.path)
	}
}

func suggestExt(k Kind) string {
	switch k {
	case KindJPEG:
		return ".jpg"
	case KindPDF:
		return ".pdf"
	}
	return "." + string(k)
}

// Completeness is the watcher's view of a settled file.
type Completeness struct {
	Kind Kind
	// Complete is true when the format's end marker is present, or when the
	// format is not one whose end can be checked (Inspect then decides).
	Complete bool
	// Missing names what is absent when Complete is false, for messages:
	// "the %%EOF trailer", "the PNG IEND chunk", ...
	Missing string
}

// Complete tells whether a file's writer has finished, cheaply: a PDF ends
// with %%EOF in its last KiB, a PNG reaches its IEND chunk, a JPEG reaches
// the end-of-image marker after its scan, a WebP holds all the bytes its
// RIFF header announces. Damaged files count as complete so that Inspect
// refuses them with an error file instead of waiting. An empty file is not
// complete.
func Complete(path string) (Completeness, error) {
	// One open: the head read to recognise the file, then its end.
	f, st, head, err := openHead(path)
	if err != nil {
		return Completeness{}, err
	}
	defer f.Close()
	size := st.Size()
	if size == 0 {
		return Completeness{Missing: "any content"}, nil
	}
	k := sniff(head)
	if named := kindOfName(path); k == kindUnknown && startsLike(named, head) {
		return Completeness{Kind: named, Missing: "most of its content"}, nil
	}
	c := Completeness{Kind: k, Complete: true}
	switch k {
	case KindPDF:
		missing, err := pdfcheck.MissingIn(f, size, head)
		if err != nil {
			return Completeness{}, fmt.Errorf("check %s: %w", path, err)
		}
		c.Complete, c.Missing = missing == "", missing
	case KindPNG, KindJPEG, KindWebP:
		_, err = imageEnd(k, bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10), size)
		if errors.Is(err, errTruncated) {
			c.Complete, c.Missing = false, missingPart(k)
		} else if err != nil && !errors.Is(err, errDamaged) {
			return Completeness{}, fmt.Errorf("check %s: %w", path, err)
		}
	}
	if c.Complete {
		c.Missing = ""
	}
	return c, nil
}

// inspectImage hashes an image and checks its header, dimensions and end.
func inspectImage(path string, k Kind, size int64) (Info, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	h := sha256.New()
	b, err := io.ReadAll(io.TeeReader(f, h))
	if err != nil {
		return Info{}, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) != size {
		return Info{}, fmt.Errorf("%s changed size while being read", path)
	}
	info := Info{Kind: k, ContentType: ContentType(k), SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
	w, ht, err := checkImage(k, b)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return info, p
		}
		return info, fmt.Errorf("check %s: %w", path, err)
	}
	info.Width, info.Height, info.Pages = w, ht, 1
	return info, nil
}
