package main

import (
	"os"
	"path/filepath"
	"testing"
)

const sampleMountinfo = `22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
35 22 0:30 / /tmp/my\040dir rw - tmpfs tmpfs rw
36 22 7:0 / /mnt/benchfs rw,relatime - ext4 /dev/loop0 rw
37 36 7:1 / /mnt/benchfs/inner rw - xfs /dev/loop1 rw
`

func TestMountOfPicksTheDeepestMount(t *testing.T) {
	for dir, want := range map[string]mount{
		"/work/main":               {"254:0", "/", "ext4"},
		"/mnt/benchfs/x/y":         {"7:0", "/mnt/benchfs", "ext4"},
		"/mnt/benchfs":             {"7:0", "/mnt/benchfs", "ext4"},
		"/mnt/benchfsother":        {"254:0", "/", "ext4"},
		"/mnt/benchfs/inner/a":     {"7:1", "/mnt/benchfs/inner", "xfs"},
		"/tmp/my dir/ppsync-bench": {"0:30", "/tmp/my dir", "tmpfs"},
	} {
		got, ok := mountOf(dir, sampleMountinfo)
		if !ok || got != want {
			t.Errorf("mountOf(%q) = %+v, %v; want %+v", dir, got, ok, want)
		}
	}
}

func TestJournaledReadsJbd2(t *testing.T) {
	root := t.TempDir()
	sys, jbd2 := filepath.Join(root, "sys"), filepath.Join(root, "jbd2")
	for _, d := range []string{sys, jbd2, filepath.Join(jbd2, "loop0-8")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for dev, name := range map[string]string{"7:0": "loop0", "254:0": "vda"} {
		if err := os.Symlink("../../devices/virtual/block/"+name, filepath.Join(sys, dev)); err != nil {
			t.Fatal(err)
		}
	}
	if !journaled("7:0", sys, jbd2) {
		t.Error("loop0 has a journal (jbd2/loop0-8), journaled says no")
	}
	if journaled("254:0", sys, jbd2) {
		t.Error("vda has no journal, journaled says it has")
	}
	if !journaled("9:9", sys, jbd2) {
		t.Error("an unknown device is reported as without a journal; it should be left alone")
	}
}
