package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

// A file name that is not valid UTF-8 keeps every byte in a JSON log line:
// it is written with Go escapes, which strconv.Unquote turns back into the
// exact name, instead of U+FFFD.
func TestJSONLogKeepsNonUTF8Names(t *testing.T) {
	name := "/in/caf\xe9 \\ r\xffport.pdf"
	var buf bytes.Buffer
	log := New(&buf, config.Log{Level: "info", Format: "json"})
	log.With(slog.Group("file", slog.String("path", name))).Info("result written",
		"path", name,
		"error", errors.New("open "+name+": permission denied"),
		"plain", "/in/façade.pdf",
		"took", 1500*time.Millisecond)

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, buf.String())
	}
	if strings.ContainsRune(buf.String(), '\uFFFD') || strings.Contains(buf.String(), `\ufffd`) {
		t.Errorf("log line has U+FFFD in place of the name's bytes:\n%s", buf.String())
	}
	unquote := func(key string, v any) string {
		t.Helper()
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s = %#v, want a string", key, v)
		}
		u, err := strconv.Unquote(`"` + s + `"`)
		if err != nil {
			t.Fatalf("%s = %q does not unquote: %v", key, s, err)
		}
		return u
	}
	if got := unquote("path", line["path"]); got != name {
		t.Errorf("path round trip = %q, want %q", got, name)
	}
	if got := unquote("file.path", line["file"].(map[string]any)["path"]); got != name {
		t.Errorf("file.path round trip = %q, want %q", got, name)
	}
	if got, want := unquote("error", line["error"]), "open "+name+": permission denied"; got != want {
		t.Errorf("error round trip = %q, want %q", got, want)
	}
	if got := line["path"]; got != `/in/caf\xe9 \\ r\xffport.pdf` {
		t.Errorf("path = %q, want Go escapes for the invalid bytes and the backslash", got)
	}
	if got := line["plain"]; got != "/in/façade.pdf" {
		t.Errorf("valid UTF-8 changed: plain = %q", got)
	}
	if got := line["took"]; got != "1.5s" {
		t.Errorf("took = %v, want \"1.5s\"", got)
	}
}

// The text format shows the same escapes (its own quoting), so both formats
// agree on how such a name looks.
func TestTextLogEscapesNonUTF8Names(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, config.Log{Level: "info", Format: "text"}).Info("seen", "path", "/in/r\xffport.pdf")
	if want := `path="/in/r\xffport.pdf"`; !strings.Contains(buf.String(), want) {
		t.Errorf("text log line = %q, want it to contain %s", buf.String(), want)
	}
}
