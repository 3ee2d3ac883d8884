//go:build !windows

package service

import (
	"context"
	"errors"
	"io"
)

// The Windows service calls exist only on Windows; PlanWindows, which
// decides what they do, is tested everywhere.

var errNotWindows = errors.New("this is a Windows service operation; this system is not Windows")

// QueryWindows is only available on Windows.
func QueryWindows(string) (*WindowsService, error) { return nil, errNotWindows }

// ApplyWindows is only available on Windows.
func ApplyWindows(context.Context, WindowsPlan, string, io.Writer) error { return errNotWindows }

// UninstallWindows is only available on Windows.
func UninstallWindows(context.Context, string, string) error { return errNotWindows }

// WindowsProbe is only available on Windows.
func WindowsProbe(string) func(context.Context) (State, error) {
	return func(context.Context) (State, error) { return State{}, errNotWindows }
}
