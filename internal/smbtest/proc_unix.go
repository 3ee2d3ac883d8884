//go:build unix

package smbtest

import "syscall"

// ownSession starts a process in a session (and process group) of its own.
func ownSession() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// killGroup signals the process group led by pid.
func killGroup(pid int, hard bool) error {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-pid, sig)
}

// groupAlive reports whether a process of the group led by pid remains.
func groupAlive(pid int) bool { return syscall.Kill(-pid, 0) == nil }
