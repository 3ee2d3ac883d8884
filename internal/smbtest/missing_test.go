package smbtest_test

import (
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/smbtest"
)

// Without the tools, Missing names each one and how to install them (the
// reason a test is skipped with, or fails with in CI).
func TestMissingNamesTheTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	why := smbtest.Missing()
	for _, want := range []string{"smbd", "smbclient", "smbnetfs", "fusermount", "apt-get install -y samba smbclient smbnetfs fuse3"} {
		if !strings.Contains(why, want) {
			t.Errorf("Missing() = %q, does not name %q", why, want)
		}
	}
}
