package uploader

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ppsync/ppsync/internal/results"
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

// sendName is the filename a document is uploaded under: its base name,
// with bytes that are not UTF-8 replaced (the API speaks JSON, which holds
// only UTF-8; the answer is matched against this same name).
func sendName(path string) string {
	return strings.ToValidUTF8(filepath.Base(path), "\uFFFD")
}

// hashFile returns the sha256 and size of the file at path.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
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
