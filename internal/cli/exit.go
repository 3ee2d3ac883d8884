package cli

import (
	"errors"
	"flag"
)

// Exit codes shared by every subcommand.
const (
	ExitOK      = 0
	ExitFailed  = 1 // ran, but some files failed (or a check found problems)
	ExitCantRun = 2 // bad config, bad key, unreachable API, bad usage
)

// ExitError carries a specific exit code; with a nil Err the command
// already said why.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status"
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Failed is err with exit code 1: the command ran, but what it was asked
// to do did not all happen.
func Failed(err error) error { return &ExitError{Code: ExitFailed, Err: err} }

// ExitCode is the process exit code of a command's error: 0 for nil and
// --help, the code an ExitError carries, else 2. say tells whether the
// error still needs printing (the flag package printed a usage error,
// and an ExitError without Err was said already).
func ExitCode(err error) (code int, say bool) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK, false
	}
	code = ExitCantRun
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code, false
		}
	}
	if errors.Is(err, ErrUsage) {
		return ExitCantRun, false
	}
	return code, true
}
