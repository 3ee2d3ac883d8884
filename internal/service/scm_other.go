//go:build !windows

package service

import "errors"

var errNoSCM = errors.New("--service: there is a Service Control Manager on Windows only")

func runUnderSCM(*Program, string) error { return errNoSCM }

func openSystemLog(string) (systemLog, error) { return nil, errNoSCM }

func programData(getenv func(string) string) string { return getenv("ProgramData") }
