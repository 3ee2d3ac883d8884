package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/notify"
)

func TestWriteNotifyResults(t *testing.T) {
	ok := notify.TestResult{Name: "ops", Where: "webhook+http://127.0.0.1/h"}
	bad := notify.TestResult{Name: "mail", Where: "smtp://mx", Err: errors.New("refused")}
	var out bytes.Buffer
	if err := writeNotifyResults(&out, []notify.TestResult{ok}); err != nil || out.String() != "ops              sent    webhook+http://127.0.0.1/h\n" {
		t.Errorf("all accepted: %v, printed %q", err, out.String())
	}
	out.Reset()
	err := writeNotifyResults(&out, []notify.TestResult{ok, bad})
	if exitCode(err) != ExitFailed || !strings.Contains(err.Error(), "1 of 2 notification targets did not accept") ||
		!strings.Contains(out.String(), "mail             FAILED  smtp://mx: refused\n") {
		t.Errorf("one refused: %v (exit %d), printed %q", err, exitCode(err), out.String())
	}
}
