//go:build !windows

package results

import "syscall"

func unreachableOS(syscall.Errno) bool { return false }
