package codepages

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ppsync/ppsync/internal/procmaps"
)

// The pages kept are the executable's read-only mappings with no page of
// their own: not its writable data, not the relocated read-only data, not
// another file's.
func TestPureKeepsOnlyTheExecutablesUnwrittenReadOnlyMappings(t *testing.T) {
	smaps := strings.Join([]string{
		"00400000-00e1f000 r-xp 00000000 fe:01 77 /usr/bin/ppsync",
		"Rss:                8000 kB",
		"Anonymous:             0 kB",
		"00e1f000-018c6000 r--p 00a1f000 fe:01 77 /usr/bin/ppsync",
		"Anonymous:             0 kB",
		"018c6000-01b18000 r--p 014c6000 fe:01 77 /usr/bin/ppsync",
		"Anonymous:          1200 kB",
		"01b18000-01c9f000 rw-p 01718000 fe:01 77 /usr/bin/ppsync",
		"Anonymous:             0 kB",
		"7f0000000000-7f0000100000 r--s 00000000 fe:01 78 /var/lib/ppsync/state.db",
		"Anonymous:             0 kB",
		"7f0000100000-7f0000200000 r-xp 00000000 fe:02 77 /other/device/same/inode",
		"Anonymous:             0 kB",
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]",
		"Anonymous:           132 kB",
	}, "\n")
	dev := uint64(0xfe<<8 | 0x01)
	got := pure([]byte(smaps), dev, 77)
	want := []span{{0x400000, 0xe1f000}, {0xe1f000, 0x18c6000}}
	if len(got) != len(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %x, want %x", i, got[i], want[i])
		}
	}
}

// Find finds this test binary's code, and a release takes its pages out of
// the resident set: what the test runs next maps some back, far fewer.
func TestReleaseTakesTheCodeOutOfTheResidentSet(t *testing.T) {
	p, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if p.Bytes() < 1<<20 {
		t.Fatalf("found %d bytes of code and read-only data; a Go test binary has megabytes", p.Bytes())
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil && tracerPid(b) > 0 {
		t.Skipf("traced by process %d: Release leaves a traced process's code alone (TestTracerPid)", tracerPid(b))
	}
	in := residentIn(t, p)
	if in < 512<<10 {
		t.Fatalf("%d KiB of the code resident before the release: too little to tell a release", in>>10)
	}
	// The process's file-backed resident memory, read with as little code
	// as can be (what runs after the release maps its own pages back).
	before := fileResident(t)
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	after := fileResident(t)
	t.Logf("code and read-only data resident before the release: %d KiB; all file-backed memory %d KiB before, %d KiB after", in>>10, before>>10, after>>10)
	if before-after < in/2 {
		t.Errorf("the release took %d KiB out of the resident set, of %d KiB of code resident: want at least half", (before-after)>>10, in>>10)
	}
}

// fileResident is the third field of /proc/self/statm (resident
// file-backed and shared pages), in bytes.
func fileResident(t *testing.T) int64 {
	var buf [128]byte
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(buf[:n]))
	pages, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// residentIn sums the Rss of smaps' mappings that lie in p's ranges.
func residentIn(t *testing.T, p *Pages) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := procmaps.Parse(line); ok {
			in = false
			for _, r := range p.ranges {
				if m.Start >= r.start && m.End <= r.end {
					in = true
				}
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			sum += kb << 10
		}
	}
	return sum
}

// The mappings found are all of the executable, none writable.
func TestFindFindsTheExecutableOnly(t *testing.T) {
	p, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.ranges {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			m, ok := procmaps.Parse(line)
			if !ok || m.Start != r.start || m.End != r.end {
				continue
			}
			found = true
			if m.Inode != st.Ino || strings.Contains(m.Perms, "w") {
				t.Errorf("mapping %q kept: want the executable's read-only mappings only", line)
			}
		}
		if !found {
			t.Errorf("range %x not a mapping of /proc/self/maps", r)
		}
	}
}

// A traced process (a debugger may have written breakpoints into the code)
// is left alone; so is one whose status cannot be read.
func TestTracerPid(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   int
	}{
		{"Name:\tppsync\nState:\tS (sleeping)\nTracerPid:\t0\nUid:\t0\n", 0},
		{"Name:\tppsync\nTracerPid:\t4242\n", 4242},
		{"Name:\tppsync\n", -1},
		{"TracerPid:\tx\n", -1},
	} {
		if got := tracerPid([]byte(tc.status)); got != tc.want {
			t.Errorf("tracerPid(%q) = %d, want %d", tc.status, got, tc.want)
		}
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if got := tracerPid(b); got < 0 {
		t.Errorf("this process's TracerPid could not be read from /proc/self/status")
	}
}
