package finish

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"unicode/utf8"
)

// nameMax is the longest file name, in bytes, common filesystems hold.
const nameMax = 255

// fitName shortens the name of out (which ends in suffix) when it exceeds
// nameMax: the start of the name, cut on a character boundary, a hash of
// the whole name (so two long names never share an output), and suffix.
func fitName(out, suffix string) string {
	dir, base := filepath.Split(out)
	if len(base) <= nameMax {
		return out
	}
	sum := sha256.Sum256([]byte(base))
	tag := "~" + hex.EncodeToString(sum[:6])
	keep := nameMax - len(tag) - len(suffix)
	for keep > 0 && !utf8.RuneStart(base[keep]) {
		keep--
	}
	return dir + base[:keep] + tag + suffix
}
