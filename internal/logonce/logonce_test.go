package logonce

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRepeatsAreHeldBackThenSummarised(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), time.Minute)
	now := time.Unix(1000, 0)
	h.shared.now = func() time.Time { return now }
	log := slog.New(h).With("component", "test")
	full := errors.New("no space left on device")
	for range 50 {
		log.Error("cannot write the state", "error", full)
	}
	log.Error("cannot write the state", "error", errors.New("permission denied")) // another error: written
	log.Info("result written", "file", "a.pdf")
	log.Info("result written", "file", "a.pdf") // info is never held back
	log.Warn("no error attribute")
	log.Warn("no error attribute")
	if n := strings.Count(buf.String(), "no space left"); n != 1 {
		t.Fatalf("repeat written %d times within the window:\n%s", n, buf.String())
	}
	for _, want := range []string{"permission denied"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Count(buf.String(), "result written") != 2 || strings.Count(buf.String(), "no error attribute") != 2 {
		t.Errorf("info or error-less lines held back:\n%s", buf.String())
	}
	now = now.Add(61 * time.Second)
	buf.Reset()
	log.Error("cannot write the state", "error", full)
	if out := buf.String(); !strings.Contains(out, "repeated=49") || !strings.Contains(out, "component=test") {
		t.Errorf("summary after the window: %q", out)
	}
}
