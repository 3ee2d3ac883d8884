// Package pdfcheck validates a PDF locally before it costs an API call:
// header, trailer and countable pages, hashing the bytes as it reads them.
package pdfcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"

	"github.com/ppsync/ppsync/internal/winpath"
)

func init() {
	// pdfcpu otherwise writes a config folder under the user's config
	// directory on first use, which fails under a hardened service account.
	model.ConfigPath = "disable"
}

// Problem codes written to <file>.error.json.
const (
	CodeEmpty      = "EMPTY_FILE"
	CodeNotPDF     = "NOT_A_PDF"
	CodeTruncated  = "TRUNCATED_PDF"
	CodePageCount  = "PAGE_COUNT_FAILED"
	CodeEncrypted  = "PASSWORD_PROTECTED_PDF"
	CodeTooLarge   = "FILE_TOO_LARGE"
	CodeUnreadable = "UNREADABLE_FILE"
	// CodeTooManyPages refuses a PDF with more pages than its inbox's
	// max_pages: never uploaded, never charged.
	CodeTooManyPages = "TOO_MANY_PAGES"
)

// Problem is why a file was refused locally. Its message says what to do.
type Problem struct {
	Code    string
	Message string
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// Info is what a valid PDF yields.
type Info struct {
	SHA256 string
	Size   int64
	Pages  int
}

// tailSize is how much of the end of a file is searched for %%EOF
// (the spec allows trailing junk; 1 KiB is what readers tolerate).
const tailSize = 1024

// Incomplete reports whether a file that looks like a PDF (it has a %PDF-
// header) is still being written: the cheap completeness check the
// watcher uses (see Missing). A file that is not a PDF at all is not
// "incomplete": Inspect refuses it.
func Incomplete(path string) (bool, error) {
	m, err := Missing(path)
	return m != "", err
}

// Missing says what a file that looks like a PDF still lacks ("" when
// nothing): the %%EOF marker in its last KiB, or, for a linearized PDF,
// the rest of the length its linearization dictionary announces (such a
// file has a first %%EOF after its first page, long before its end).
func Missing(path string) (string, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	head := make([]byte, min(st.Size(), tailSize))
	if _, err := io.ReadFull(f, head); err != nil {
		return "", err
	}
	return MissingIn(f, st.Size(), head)
}

// MissingIn is Missing for a file already open as f, size bytes long,
// whose first bytes (tailSize of them, or all when it is shorter) are head.
func MissingIn(f io.ReaderAt, size int64, head []byte) (string, error) {
	head = head[:min(int64(len(head)), size, tailSize)]
	if !bytes.Contains(head, []byte("%PDF-")) {
		return "", nil
	}
	if n, ok := linearizedLength(head); ok && n > size {
		return fmt.Sprintf("%d of the %d bytes its linearization dictionary announces", n-size, n), nil
	}
	off := max(size-tailSize, 0)
	tail := make([]byte, size-off)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return "the %%EOF trailer", nil
	}
	return "", nil
}

// linearizedRE finds the file length (/L) in a linearization dictionary.
var linearizedRE = regexp.MustCompile(`/Linearized\s[^>]*?/L\s+(\d{1,15})\b`)

// linearizedLength is the file length a linearization dictionary in head
// announces.
func linearizedLength(head []byte) (int64, bool) {
	m := linearizedRE.FindSubmatch(head)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	return n, err == nil
}

// source is a file being checked: the file itself, or its bytes read into
// memory when it is small.
type source interface {
	io.ReaderAt
	io.ReadSeeker
}

// inMemoryMax is the largest file read whole into memory to be checked
// (one read for the hash and the checks); larger ones are read where they
// lie, through a buffer of the same size that keeps their end, and their
// first headKeep bytes beside it: either way reading holds at most
// 1 MiB and 64 KiB.
const inMemoryMax = hashBuf

// Options tune Inspect.
type Options struct {
	// MaxSize refuses larger files (0: no limit).
	MaxSize int64
	// MaxPages refuses PDFs with more pages (0: no limit) with
	// CodeTooManyPages, as soon as the page tree's root says so.
	MaxPages int
	// Buffer is room the caller owns for reading, used only during the
	// call: with BufferSize bytes, Inspect reads a small file into it, or
	// a large one through it, instead of allocating 1 MiB for each file
	// (a validation worker keeps one for all the files it checks).
	Buffer []byte
}

// BufferSize is the room Options.Buffer needs to be used: a file of up to
// inMemoryMax bytes read whole, and one byte more to see that it did not
// grow meanwhile; for a larger file, the same room holds its last
// inMemoryMax bytes, and headKeep more its first bytes (see hashKeeping).
const BufferSize = inMemoryMax + 1 + headKeep

// headKeep is how much of the start of a large file is kept, besides its
// end, while it is hashed: a PDF's header, and the catalog and page tree
// a writer puts first, are then read from memory.
const headKeep = 64 << 10

// buffer is o.Buffer when it is large enough, or a new one.
func (o Options) buffer() []byte {
	if len(o.Buffer) >= BufferSize {
		return o.Buffer[:BufferSize]
	}
	return make([]byte, BufferSize)
}

// deepCheckObjects is the largest PDF (in objects, the trailer's /Size)
// that is also given to pdfcpu's full validation: pdfcpu loads every
// object, some 2.5 KiB each, so this bounds what that costs. Larger files
// are judged by the page counter alone, whose memory does not grow with the
// file (see countPages).
const deepCheckObjects = 2500

// Inspect hashes and validates the PDF at path. A *Problem error means the
// file is not acceptable (and never will be, unless it changes); any other
// error is an I/O failure worth retrying. Its memory does not grow with the
// number of pages or objects in the file.
func Inspect(path string, o Options) (Info, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	return InspectOpen(f, path, st.Size(), o)
}

// InspectOpen is Inspect on the file at path already open as f, read from
// its start, whose size the caller read from it (fstat) when it opened it:
// a caller that read the file's head to recognise it validates it without
// opening it again.
func InspectOpen(f *os.File, path string, size int64, o Options) (Info, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Info{}, err
	}
	switch {
	case size == 0:
		return Info{}, &Problem{CodeEmpty, "the file is empty (0 bytes): if a scanner or copy is still writing it, it is picked up again when it changes"}
	case o.MaxSize > 0 && size > o.MaxSize:
		return Info{}, &Problem{CodeTooLarge, fmt.Sprintf("the file is %d MiB, over the %d MiB limit per file: split it, or raise [upload] max_file_size if your PerfectParser plan allows larger files", size>>20, o.MaxSize>>20)}
	}
	h := sha256.New()
	var src source = f
	buf := o.buffer()
	if size <= inMemoryMax {
		// A small file is read once, into memory, for the hash and the
		// checks alike (pdfcpu reads a file in many small pieces).
		b := buf[:size+1]
		n, err := io.ReadFull(io.TeeReader(f, h), b)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return Info{}, err
		}
		if int64(n) != size {
			return Info{}, fmt.Errorf("%s changed size while being read", path)
		}
		src = bytes.NewReader(b[:n])
	} else {
		k, err := hashKeeping(h, f, path, size, buf)
		if err != nil {
			return Info{}, err
		}
		src = k
	}
	head := make([]byte, min(size, tailSize))
	if _, err := src.ReadAt(head, 0); err != nil {
		return Info{}, err
	}
	tail := make([]byte, min(size, tailSize))
	if _, err := src.ReadAt(tail, size-int64(len(tail))); err != nil {
		return Info{}, err
	}
	info := Info{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
	if !bytes.Contains(head, []byte("%PDF-")) {
		return info, &Problem{CodeNotPDF, "the file does not start with %PDF-: it is not a PDF (perhaps another format renamed to .pdf); convert it to PDF and drop it again"}
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return info, &Problem{CodeTruncated, "the PDF has no %%EOF trailer: it is truncated (an interrupted copy or scan); drop a complete copy again"}
	}
	pages, err := judge(src, size, o.MaxPages)
	info.Pages = pages
	return info, err
}

// judge counts the pages of the PDF in f and checks it: by the page
// counter, whose memory is bounded whatever the file, and, for files small
// enough for its memory to be bounded too, by the structural sweep or
// pdfcpu's full validation.
func judge(f source, size int64, maxPages int) (int, error) {
	return judgeWith(f, size, maxPages, pdfcpuPages)
}

// judgeWith is judge with deep, pdfcpu's validation (pdfcpuPages), given
// so that tests can tell when it runs.
func judgeWith(f source, size int64, maxPages int, deep func(io.ReadSeeker) (int, error)) (int, error) {
	pc, err := countPages(f, size, int64(maxPages))
	var swept error
	switch {
	case errors.Is(err, errTooMany):
		return 0, &Problem{CodeTooManyPages, tooMany(pc.pages, maxPages)}
	case err == nil && pc.pages <= 0:
		return 0, countFailed(errors.New("the document has no pages"))
	case err == nil && pc.objects > deepCheckObjects:
		// Too large for pdfcpu's memory; the page tree was read.
		return int(pc.pages), nil
	case err != nil && !errors.Is(err, errEncryptedStream) && !smallEnough(f, size):
		return 0, countFailed(err)
	case errors.Is(err, errEncryptedStream) && pc.objects > deepCheckObjects:
		return 0, &Problem{CodeEncrypted, fmt.Sprintf("the PDF is encrypted and too large (%d objects) to be checked without decrypting it: save an unprotected copy (print it to PDF, or run qpdf --decrypt) and drop that instead", pc.objects)}
	case err == nil && pc.walked && !pc.encrypted:
		// The counter read the cross-references and the whole page tree
		// of a file that is not encrypted, and found every page tree
		// entry of the right kind: the sweep checks the rest of its
		// structure in a few small reads. Only when either finds damage
		// does pdfcpu, which loads every stream, judge the file: it
		// repairs what it can (a cross-reference offset that is off, a
		// wrong /Length) and refuses the rest.
		if swept = pc.odd; swept == nil {
			swept = pc.doc.sweep()
		}
		if swept == nil {
			return int(pc.pages), nil
		}
	}
	// Small enough for pdfcpu: it validates the whole file, repairs what
	// the counter could not read, and opens encrypted files.
	n, perr := deep(f)
	if perr != nil {
		if p := pdfcpuProblem(perr); p.Code != CodePageCount || swept == nil {
			return 0, p
		}
		// What the sweep found says where the damage is.
		return 0, &Problem{CodePageCount, "the PDF's structure is damaged: re-export or re-scan it (" + short(swept) + ")"}
	}
	if maxPages > 0 && n > maxPages {
		return 0, &Problem{CodeTooManyPages, tooMany(int64(n), maxPages)}
	}
	return n, nil
}

func tooMany(pages int64, maxPages int) string {
	return fmt.Sprintf("the PDF has %d pages, and this inbox allows %d (max_pages): split the file into parts of at most %d pages, or raise max_pages for this inbox; it was not uploaded and cost nothing",
		pages, maxPages, maxPages)
}

func countFailed(err error) *Problem {
	return &Problem{CodePageCount, "the PDF's pages cannot be counted, so it is damaged: re-export or re-scan it (" + short(err) + ")"}
}

func short(err error) string {
	msg := strings.TrimSpace(err.Error())
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

func pdfcpuProblem(err error) *Problem {
	msg := short(err)
	if strings.Contains(strings.ToLower(msg), "password") || strings.Contains(strings.ToLower(msg), "encrypt") {
		return &Problem{CodeEncrypted, "the PDF needs a password to open: save an unprotected copy and drop that instead (" + msg + ")"}
	}
	return &Problem{CodePageCount, "the PDF's pages cannot be counted, so it is damaged: re-export or re-scan it (" + msg + ")"}
}

// smallEnough reports whether a file the page counter could not read is
// small enough, in objects, for pdfcpu to try (it repairs damaged
// cross-reference tables by scanning the file). Objects are counted by
// their "endobj" keywords; object streams, which may hold thousands of
// objects in a few bytes, make a file too large to tell.
func smallEnough(f io.ReaderAt, size int64) bool {
	buf := make([]byte, hashBuf)
	var objects int
	var carry int
	for off := int64(0); off < size; {
		n, err := f.ReadAt(buf[carry:], off)
		if n == 0 && err != nil {
			return false
		}
		off += int64(n)
		b := buf[:carry+n]
		objects += bytes.Count(b, []byte("endobj"))
		if bytes.Contains(b, []byte("/ObjStm")) || objects > deepCheckObjects {
			return false
		}
		// Keep the last bytes: a keyword may straddle two reads.
		carry = copy(buf, b[max(len(b)-7, 0):])
		objects -= bytes.Count(buf[:carry], []byte("endobj"))
	}
	return true
}

// hashBuf is the read size for hashing large files (1 MiB reads keep the
// syscall count low; the hash itself dominates).
const hashBuf = 1 << 20

// hashKeeping hashes the size bytes of f, read from its start through
// buf (BufferSize bytes), and returns f as a source that serves what the
// checks then read from memory where it can: the first headKeep bytes
// and, since the first read is cut so that the last one fills the
// buffer, the last hashBuf bytes (the xref table and trailer, and most of
// a file under 2 MiB); anything else is read from the file. It reads as
// many times as reading in hashBuf pieces would, and fails when the file
// turns out shorter or longer than size.
func hashKeeping(h io.Writer, f *os.File, path string, size int64, buf []byte) (*kept, error) {
	chunk := buf[:hashBuf]
	probe := buf[hashBuf : hashBuf+1]
	k := &kept{f: f, head: buf[hashBuf+1 : hashBuf+1+min(int64(headKeep), size)]}
	var off int64
	for off < size {
		want := int64(hashBuf)
		if off == 0 {
			if want = size % hashBuf; want == 0 {
				want = hashBuf
			}
		}
		n, err := io.ReadFull(f, chunk[:want])
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s changed size while being read", path)
		}
		if err != nil {
			return nil, err
		}
		h.Write(chunk[:n])
		if off < int64(len(k.head)) {
			copy(k.head[off:], chunk[:n])
		}
		k.tail, k.tailOff = chunk[:n], off
		off += int64(n)
	}
	if n, _ := f.Read(probe); n > 0 {
		return nil, fmt.Errorf("%s changed size while being read", path)
	}
	k.SectionReader = io.NewSectionReader(k, 0, size)
	return k, nil
}

// kept is a large file just hashed: its first and last bytes in memory
// (see hashKeeping), the rest read from the file.
type kept struct {
	*io.SectionReader // Read and Seek, through ReadAt
	f                 io.ReaderAt
	head              []byte // the bytes at [0, len(head))
	tail              []byte // the bytes at [tailOff, tailOff+len(tail))
	tailOff           int64
}

// ReadAt serves a read that lies within the kept head or tail from
// memory, and any other from the file.
func (k *kept) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	switch {
	case off >= 0 && end <= int64(len(k.head)):
		return copy(p, k.head[off:]), nil
	case off >= k.tailOff && end <= k.tailOff+int64(len(k.tail)):
		return copy(p, k.tail[off-k.tailOff:]), nil
	}
	return k.f.ReadAt(p, off)
}

func hashInto(h io.Writer, r io.Reader) (int64, error) {
	return io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, hashBuf))
}

// HashFile returns the hex sha256 and size of a file, the way Inspect
// hashes large files.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := hashInto(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// pdfcpuPageCount is pdfcpu's api.PageCount: the file read and its
// cross-reference table validated, then the count of its page tree. It
// calls the reader and the validator directly: pdfcpu's api package
// brings its form filler, and with it a width table of every Unicode code
// point (go-runewidth) that is built when the program starts, 2.2 MB and
// some 30 ms at every start of every ppsync command.
func pdfcpuPageCount(rs io.ReadSeeker, conf *model.Configuration) (int, error) {
	ctx, err := pdfcpu.Read(rs, conf)
	if err != nil {
		return 0, fmt.Errorf("page count: read context: %w", err)
	}
	if err := validate.XRefTable(ctx); err != nil {
		return 0, fmt.Errorf("page count: validation error (obj#:%d): %w", ctx.CurObj, err)
	}
	return ctx.PageCount, nil
}

// pdfcpuPages validates f with pdfcpu (relaxed) and returns its page
// count. Only for files whose object count is bounded (deepCheckObjects):
// pdfcpu holds every object in memory.
func pdfcpuPages(f io.ReadSeeker) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdf reader failed: %v", r)
		}
	}()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	n, err = pdfcpuPageCount(f, conf)
	if err == nil && n <= 0 {
		err = errors.New("the document has no pages")
	}
	return n, err
}
