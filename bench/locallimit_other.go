//go:build !linux && !windows

package main

import "errors"

var errLinuxOnly = errors.New("the local-limit and restart scenarios read per-thread CPU time and /proc: Linux only")

func localLimit(options, string, string) error { return errLinuxOnly }

func restartScenario(options, string, string) error { return errLinuxOnly }
