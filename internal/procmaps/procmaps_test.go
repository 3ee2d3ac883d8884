package procmaps

import "testing"

func TestParse(t *testing.T) {
	dev := uint64(0xfe<<8 | 0x01)
	for _, tc := range []struct {
		line string
		ok   bool
		want Mapping
		of   bool
	}{
		{"00400000-00e1f000 r-xp 00000000 fe:01 77 /usr/bin/ppsync", true, Mapping{0x400000, 0xe1f000, "r-xp", 0xfe, 1, 77}, true},
		{"7f00-7f10 r--s 00000000 fe:02 77 /other/device", true, Mapping{0x7f00, 0x7f10, "r--s", 0xfe, 2, 77}, false},
		{"7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]", true, Mapping{0x7ffd0000, 0x7ffd1000, "rw-p", 0, 0, 0}, false},
		{"Rss:                8000 kB", false, Mapping{}, false},
		{"1000-0800 r--p 00000000 fe:01 77 /backwards", false, Mapping{}, false},
		{"zz-1000 r--p 00000000 fe:01 77 /bad", false, Mapping{}, false},
	} {
		m, ok := Parse(tc.line)
		if ok != tc.ok || m != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.line, m, ok, tc.want, tc.ok)
		}
		if ok && m.Of(dev, 77) != tc.of {
			t.Errorf("%q: Of = %v, want %v", tc.line, !tc.of, tc.of)
		}
	}
}
