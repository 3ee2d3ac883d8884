//go:build !unix

package admin_test

import "os/exec"

// asNobody leaves cmd as it is: only Unix systems switch a child's user
// this way, and the test that needs it skips elsewhere.
func asNobody(*exec.Cmd) {}
