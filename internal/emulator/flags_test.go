package emulator

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// The flags of 'ppsync emulator' give the options, and each out-of-range
// value is refused naming its flag.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--fail-rate", "1.5"}, "--fail-rate 1.5: must be between 0 and 1"},
		{[]string{"--slow-rate", "-0.1"}, "--slow-rate -0.1: must be between 0 and 1"},
		{[]string{"--credits", "-1"}, "--credits -1: must be 0 or more"},
		{[]string{"--proxy-max-body", "0"}, "--proxy-max-body 0: must be a positive number of bytes"},
		{[]string{"--quirks", "no-such-quirk"}, "--quirks \"no-such-quirk\""},
	} {
		fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
		options := Flags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		listen, o, err := options(io.Discard)
		if c.err == "" {
			if err != nil || listen != "127.0.0.1:8787" || o.Credits != 1000 || o.Logger == nil {
				t.Errorf("defaults: %q %+v %v", listen, o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: %v, want %q", c.args, err, c.err)
		}
	}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	options := Flags(fs)
	_ = fs.Parse([]string{"--credits", "0", "--api-key", "a", "--api-key", "b"})
	if _, o, err := options(io.Discard); err != nil || o.Credits != NoCredits || strings.Join(o.APIKeys, ",") != "a,b" {
		t.Errorf("--credits 0 --api-key a --api-key b: %+v %v", o, err)
	}
}
