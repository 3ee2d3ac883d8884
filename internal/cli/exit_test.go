package cli

import (
	"errors"
	"flag"
	"fmt"
	"testing"
)

// An error's exit code: 0 for none and --help, 2 for what could not run
// (said unless the flag package said it), 1 for Failed.
func TestExitCode(t *testing.T) {
	if got := Failed(errors.New("2 files failed")).Error(); got != "2 files failed" {
		t.Errorf("Failed(err).Error() = %q, want err's text", got)
	}
	for _, c := range []struct {
		err  error
		code int
		say  bool
	}{
		{nil, ExitOK, false},
		{flag.ErrHelp, ExitOK, false},
		{ErrUsage, ExitCantRun, false},
		{fmt.Errorf("retry: %w", ErrUsage), ExitCantRun, false},
		{errors.New("bad key"), ExitCantRun, true},
		{Failed(errors.New("2 files failed")), ExitFailed, true},
		{fmt.Errorf("wrapped: %w", Failed(errors.New("x"))), ExitFailed, true},
		{&ExitError{Code: ExitCantRun}, ExitCantRun, false},
		{&ExitError{Code: ExitFailed}, ExitFailed, false},
	} {
		if code, say := ExitCode(c.err); code != c.code || say != c.say {
			t.Errorf("ExitCode(%v) = %d, %v; want %d, %v", c.err, code, say, c.code, c.say)
		}
	}
}
