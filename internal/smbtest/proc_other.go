//go:build !unix

package smbtest

import (
	"errors"
	"syscall"
)

// Missing reports smbd & co. missing on such systems anyway; these keep
// the package building there.
func ownSession() *syscall.SysProcAttr { return nil }

func killGroup(int, bool) error { return errors.New("process groups are unix only") }

func groupAlive(int) bool { return false }
