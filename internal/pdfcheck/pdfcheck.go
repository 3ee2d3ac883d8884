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
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func init() {
	// pdfcpu otherwise writes a config folder under the user's config
	// directory on first use, which fails under a hardened service account.
	model.ConfigPath = "disable"
}

// Problem codes written to <file>.error.json.
const (
	CodeEmpty        = "EMPTY_FILE"
	CodeNotPDF       = "NOT_A_PDF"
	CodeTruncated    = "TRUNCATED_PDF"
	CodePageCount    = "PAGE_COUNT_FAILED"
	CodeEncrypted    = "PASSWORD_PROTECTED_PDF"
	CodeTooLarge     = "FILE_TOO_LARGE"
	CodeUnreadable   = "UNREADABLE_FILE"
	inMemoryMaxBytes = 32 << 20
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
// header) still lacks the %%EOF marker in its last KiB: the cheap
// completeness check the watcher uses. A file that is not a PDF at all is
// not "incomplete": Inspect refuses it.
func Incomplete(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	head := make([]byte, min(st.Size(), tailSize))
	if _, err := io.ReadFull(f, head); err != nil {
		return false, err
	}
	if !bytes.Contains(head, []byte("%PDF-")) {
		return false, nil
	}
	off := max(st.Size()-tailSize, 0)
	tail := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return !bytes.Contains(tail, []byte("%%EOF")), nil
}

// Inspect hashes and validates the PDF at path. A *Problem error means the
// file is not acceptable (and never will be, unless it changes); any other
// error is an I/O failure worth retrying.
func Inspect(path string, maxSize int64) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	size := st.Size()
	switch {
	case size == 0:
		return Info{}, &Problem{CodeEmpty, "the file is empty (0 bytes): if a scanner or copy is still writing it, it is picked up again when it changes"}
	case maxSize > 0 && size > maxSize:
		return Info{}, &Problem{CodeTooLarge, fmt.Sprintf("the file is %d MiB, over the %d MiB limit per file: split it, or raise [upload] max_file_size if your PerfectParser plan allows larger files", size>>20, maxSize>>20)}
	}
	h := sha256.New()
	var rs io.ReadSeeker
	var head, tail []byte
	if size <= inMemoryMaxBytes {
		// Read in one buffer of the size stat gave, then make sure the file
		// ends there.
		b := make([]byte, size)
		n, err := io.ReadFull(io.TeeReader(f, h), b)
		if errors.Is(err, io.ErrUnexpectedEOF) || err == nil && hasMore(f) {
			return Info{}, fmt.Errorf("%s changed size while being read", path)
		}
		if err != nil {
			return Info{}, err
		}
		b = b[:n]
		rs = bytes.NewReader(b)
		head = b[:min(len(b), tailSize)]
		tail = b[max(len(b)-tailSize, 0):]
	} else {
		head = make([]byte, tailSize)
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Info{}, err
		}
		n64, err := hashInto(h, f)
		if err != nil {
			return Info{}, err
		}
		if n64 != size {
			return Info{}, fmt.Errorf("%s changed size while being read", path)
		}
		tail = make([]byte, min(size, tailSize))
		if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
			return Info{}, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Info{}, err
		}
		rs = f
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if !bytes.Contains(head, []byte("%PDF-")) {
		return Info{SHA256: sum, Size: size}, &Problem{CodeNotPDF, "the file does not start with %PDF-: it is not a PDF (perhaps another format renamed to .pdf); convert it to PDF and drop it again"}
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return Info{SHA256: sum, Size: size}, &Problem{CodeTruncated, "the PDF has no %%EOF trailer: it is truncated (an interrupted copy or scan); drop a complete copy again"}
	}
	pages, err := countPages(rs)
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if strings.Contains(strings.ToLower(msg), "password") || strings.Contains(strings.ToLower(msg), "encrypt") {
			return Info{SHA256: sum, Size: size}, &Problem{CodeEncrypted, "the PDF needs a password to open: save an unprotected copy and drop that instead (" + msg + ")"}
		}
		return Info{SHA256: sum, Size: size}, &Problem{CodePageCount, "the PDF's pages cannot be counted, so it is damaged: re-export or re-scan it (" + msg + ")"}
	}
	return Info{SHA256: sum, Size: size, Pages: pages}, nil
}

// hasMore reports that r has more to read.
func hasMore(r io.Reader) bool {
	var one [1]byte
	n, _ := r.Read(one[:])
	return n > 0
}

// hashBuf is the read size for hashing large files (1 MiB reads keep the
// syscall count low; the hash itself dominates).
const hashBuf = 1 << 20

func hashInto(h io.Writer, r io.Reader) (int64, error) {
	return io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, hashBuf))
}

// HashFile returns the hex sha256 and size of a file, the way Inspect
// hashes large files.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
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

func countPages(rs io.ReadSeeker) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdf reader failed: %v", r)
		}
	}()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	n, err = api.PageCount(rs, conf)
	if err == nil && n <= 0 {
		err = errors.New("the document has no pages")
	}
	return n, err
}
