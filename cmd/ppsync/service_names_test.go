package main

import (
	"strings"
	"testing"
)

func TestServiceCommandsRefuseABadName(t *testing.T) {
	for _, cmd := range []string{"install", "start", "stop", "restart", "uninstall"} {
		code, _, stderr := run(t, nil, cmd, "--name", "Bad Name")
		if code == 0 || !strings.Contains(stderr, `--name "Bad Name"`) {
			t.Errorf("ppsync %s --name 'Bad Name': exit %d\n%s", cmd, code, stderr)
		}
	}
}
