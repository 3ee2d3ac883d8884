package rebuild_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/rebuild"
	"github.com/ppsync/ppsync/internal/state"
)

// Check and Compact say what they found; a state a running ppsync holds
// is ErrRunning, one not created yet is a note.
func TestCheckAndCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	for name, f := range map[string]func(string) (string, error){"check": rebuild.Check, "compact": rebuild.Compact} {
		msg, err := f(path)
		if err != nil || !strings.Contains(msg, "not created yet") {
			t.Errorf("%s before the state exists = %q, %v, want a not-created note", name, msg, err)
		}
	}
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(string) (string, error){"check": rebuild.Check, "compact": rebuild.Compact} {
		if _, err := f(path); !errors.Is(err, rebuild.ErrRunning) || !strings.Contains(err.Error(), "holds "+path+": stop") {
			t.Errorf("%s on a held state = %v, want ErrRunning naming %s", name, err, path)
		}
	}
	st.Close()
	if msg, err := rebuild.Check(path); err != nil || !strings.HasPrefix(msg, "state "+path+": consistent, schema ") || !strings.Contains(msg, "submissions waiting to be confirmed: 0") {
		t.Errorf("check = %q, %v", msg, err)
	}
	if msg, err := rebuild.Compact(path); err != nil || !strings.HasPrefix(msg, "compacted "+path+": ") {
		t.Errorf("compact = %q, %v", msg, err)
	}
}

func TestSizeText(t *testing.T) {
	for _, c := range []struct {
		b    int64
		want string
	}{{0, "0 bytes"}, {1023, "1023 bytes"}, {1536, "1.5 KiB"}, {3 << 20, "3.0 MiB"}, {5 << 30, "5.0 GiB"}} {
		if got := rebuild.SizeText(c.b); got != c.want {
			t.Errorf("SizeText(%d) = %q, want %q", c.b, got, c.want)
		}
	}
}
