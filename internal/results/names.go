package results

import (
	"os"
	"strings"

	"github.com/ppsync/ppsync/internal/winpath"
)

// Names is one listing of a folder's names, to answer "may <name> exist
// here?" for many files from one read of the folder. On a case-insensitive
// server (Samba's default, Windows) every lookup of a name that does not
// exist reads the whole folder, so a backlog that looks up a few missing
// names per file pays O(folder) per lookup; one listing pays it once.
//
// Names are kept folded to lower case, so a name that differs only in case
// (the same file on a case-insensitive filesystem) counts as present: an
// answer of "absent" is only given when no name could be the one asked
// for, and "present" only costs the real lookup it replaces.
type Names struct {
	folded map[string]bool
}

// ListNames lists dir once.
func ListNames(dir string) (*Names, error) {
	ents, err := os.ReadDir(winpath.Sys(dir))
	if err != nil {
		return nil, err
	}
	n := &Names{folded: make(map[string]bool, len(ents))}
	for _, e := range ents {
		n.folded[strings.ToLower(e.Name())] = true
	}
	return n, nil
}

// MayHave reports whether name may exist in the folder listed: false only
// when no name in the listing matches it, whatever the case.
func (n *Names) MayHave(name string) bool { return n == nil || n.folded[strings.ToLower(name)] }

// Add records a name created in the folder since the listing.
func (n *Names) Add(name string) {
	if n != nil {
		n.folded[strings.ToLower(name)] = true
	}
}
