//go:build !unix

package results

import "io/fs"

const openFlags = 0

// links is 1 where the link count is not at hand.
func links(fs.FileInfo) uint64 { return 1 }
