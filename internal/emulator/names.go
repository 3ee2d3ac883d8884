package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// File names with control characters. A multipart header line may not hold
// a control character, and Go's reader refuses the whole body for one, so
// the emulator reads a submission through headerControls: in the part
// headers (never in the file contents) each control byte but the line ends
// becomes a private-use marker rune, and checkNames then plays what an API
// does with such a name: by default it refuses the request, 400
// INVALID_PAYLOAD naming the file (escaped); under QuirkMangleNames it
// takes the file and echoes the name with each control character replaced
// by U+FFFD.

// ctrlBase is the private-use rune that stands for control byte 0; DEL
// (0x7f) is ctrlBase+0x20.
const ctrlBase = 0xF700

func ctrlMarker(c byte) rune {
	if c == 0x7f {
		return ctrlBase + 0x20
	}
	return ctrlBase + rune(c)
}

func isCtrlMarker(r rune) bool { return r >= ctrlBase && r <= ctrlBase+0x20 }

// headerControls filters a multipart body with the given boundary.
type headerControls struct {
	src      *bufio.Reader
	delim    []byte // "--" + boundary
	inHeader bool
	atStart  bool // the next byte starts a line
	pending  []byte
	err      error
}

func newHeaderControls(r io.Reader, boundary string) *headerControls {
	return &headerControls{src: bufio.NewReaderSize(r, 64<<10), delim: []byte("--" + boundary), atStart: true}
}

func (h *headerControls) Read(p []byte) (int, error) {
	for len(h.pending) == 0 {
		if h.err != nil {
			return 0, h.err
		}
		line, err := h.src.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			h.err = err
		}
		h.pending = h.filter(line, err == nil)
	}
	n := copy(p, h.pending)
	h.pending = h.pending[n:]
	return n, nil
}

// filter passes one line (or a piece of a long one) on; whole says it ends
// with '\n'.
func (h *headerControls) filter(line []byte, whole bool) []byte {
	start := h.atStart
	h.atStart = whole
	if h.inHeader {
		if start && (bytes.Equal(line, []byte("\r\n")) || bytes.Equal(line, []byte("\n"))) {
			h.inHeader = false
			return line
		}
		var out []byte
		for i, c := range line {
			if (c < 0x20 || c == 0x7f) && c != '\r' && c != '\n' {
				if out == nil {
					out = append(make([]byte, 0, len(line)+8), line[:i]...)
				}
				out = utf8.AppendRune(out, ctrlMarker(c))
				continue
			}
			if out != nil {
				out = append(out, c)
			}
		}
		if out == nil {
			return line
		}
		return out
	}
	if start && bytes.HasPrefix(line, h.delim) && !bytes.HasPrefix(line[len(h.delim):], []byte("--")) {
		h.inHeader = true
	}
	return line
}

// checkNames plays the API's answer to file names with control characters:
// it refuses the request (false, after writing the answer) or, under
// QuirkMangleNames, mangles the names it will echo.
func (e *Emulator) checkNames(w http.ResponseWriter, ups []upload) bool {
	for i := range ups {
		name := ups[i].name
		if !strings.ContainsFunc(name, isCtrlMarker) {
			continue
		}
		if e.quirk(QuirkMangleNames) {
			ups[i].name = strings.Map(func(r rune) rune {
				if isCtrlMarker(r) {
					return utf8.RuneError
				}
				return r
			}, name)
			continue
		}
		raw := strings.Map(func(r rune) rune {
			switch {
			case r == ctrlBase+0x20:
				return 0x7f
			case isCtrlMarker(r):
				return r - ctrlBase
			}
			return r
		}, name)
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload,
			fmt.Sprintf("Invalid file name %s: control characters are not allowed.", strconv.QuoteToASCII(raw)))
		return false
	}
	return true
}
