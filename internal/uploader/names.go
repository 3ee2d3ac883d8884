package uploader

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/winpath"
)

// nameMax is the longest file name (in bytes) the common filesystems hold:
// ext4, XFS, btrfs, ZFS, APFS, NTFS (in UTF-16 units) and SMB shares.
const nameMax = 255

// CodeNameTooLong marks a file refused because its result could not be
// written beside it.
const CodeNameTooLong = "NAME_TOO_LONG"

// nameProblem says why path's result or error file cannot be created
// ("" when both fit): a result that cannot be delivered must not be paid for.
func nameProblem(path string) string {
	base := filepath.Base(path)
	longest := max(len(results.ResultSuffix), len(results.ErrorSuffix))
	if len(base)+longest <= nameMax {
		return ""
	}
	return fmt.Sprintf("the file name is %d bytes long; with %q its result file would exceed the filesystem's limit of %d bytes, "+
		"so it was not sent (no credits spent): rename it to at most %d bytes and drop it again", len(base), results.ErrorSuffix, nameMax, nameMax-longest)
}

// sendName is the filename a document is uploaded under, ppsync's choice:
// its base name when every character is one the API can be trusted to
// echo intact, else a safe name. The API contract promises only that a
// document's "filename" is the upload name, and shows plain ASCII names;
// it promises nothing about control characters (a newline is dropped from
// a multipart header, a \x01 makes the request malformed), quotes,
// backslashes (some servers cut a name at one), percent signs, or any
// character outside ASCII (a server may normalise or re-encode it). Such
// characters become '_', and a short hash of the real name keeps two names
// changed alike apart ("März–1.pdf" → "M_rz_1~3f2a9c1b.pdf"). The answer is
// matched against this name; the real name stays in the state and in the
// result and error files (source.path).
func sendName(path string) string {
	base := filepath.Base(path)
	safe := []byte(base)
	changed := !utf8.ValidString(base)
	if changed {
		safe = []byte(strings.ToValidUTF8(base, "_"))
	}
	out := safe[:0]
	for _, r := range string(safe) {
		if r < utf8.RuneSelf && safeByte(byte(r)) {
			out = append(out, byte(r))
			continue
		}
		out = append(out, '_')
		changed = true
	}
	// A leading or trailing space may be trimmed by a server.
	if n := len(out); n > 0 && (out[0] == ' ' || out[n-1] == ' ') {
		changed = true
		out = []byte(strings.Trim(string(out), " "))
	}
	if !changed {
		return base
	}
	name := string(out)
	ext := filepath.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	sum := sha256.Sum256([]byte(base))
	return strings.TrimSuffix(name, ext) + "~" + hex.EncodeToString(sum[:4]) + ext
}

// safeByte reports an ASCII character every multipart parser and JSON
// encoder passes through unchanged: letters, digits, space and . _ - ( )
// [ ] , ' ! ~ @.
func safeByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(" ._-()[],'!~@", c) >= 0
}

// hashFile returns the sha256 and size of the file at path.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(winpath.Sys(path))
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
