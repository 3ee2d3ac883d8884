package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/service"
)

// Piped in (not a console), the password is the first line of stdin.
func TestReadPasswordFromPipe(t *testing.T) {
	for _, tc := range []struct {
		in, want, errHas string
	}{
		{"s3cret\r\n", "s3cret", ""},
		{"s3cret\nignored\n", "s3cret", ""},
		{"no-newline", "no-newline", ""},
		{"\n", "", "no password given"},
		{"", "", "no password given"},
	} {
		f := filepath.Join(t.TempDir(), "stdin")
		if err := os.WriteFile(f, []byte(tc.in), 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var prompt strings.Builder
		got, err := service.ReadPassword(in, &prompt, `CORP\svc`)
		in.Close()
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.in, got, err, tc.want)
		}
		if prompt.Len() != 0 {
			t.Errorf("%q: prompted %q on a pipe", tc.in, prompt.String())
		}
	}
}
