package main

import (
	"bytes"
	"strings"
	"testing"
)

// A group command given no known action prints its usage; review also
// names the actions it knows, notify and state do not; --help adds the
// summary.
func TestGroupActions(t *testing.T) {
	type usageCase struct {
		args     []string
		code     int
		want     []string
		dontWant string
	}
	for _, tc := range []usageCase{
		{[]string{"review", "nope"}, 2, []string{"Usage: ppsync review list|show|approve|reject", `ppsync: review: unknown action "nope": use list, show, approve or reject`}, ""},
		{[]string{"review"}, 2, []string{"Usage: ppsync review list|show|approve|reject"}, "unknown action"},
		{[]string{"review", "--help"}, 0, []string{"List, show, approve or reject the results held", "'ppsync review list -c FILE' lists"}, "unknown action"},
		{[]string{"notify", "nope"}, 2, []string{"Usage: ppsync notify test -c FILE"}, "unknown action"},
		{[]string{"state", "nope"}, 2, []string{"Usage: ppsync state check -c FILE", "       ppsync state compact -c FILE"}, "unknown action"},
		{[]string{"state", "-h"}, 0, []string{"\nCheck the state file, compact it"}, "rewrites the state file"},
	} {
		var out, errOut bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		code := m.Run(t.Context(), tc.args)
		all := out.String() + errOut.String()
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s", tc.args, code, tc.code, all)
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%q printed %q, want it to say %q", tc.args, all, w)
			}
		}
		if tc.dontWant != "" && strings.Contains(all, tc.dontWant) {
			t.Errorf("%q printed %q, want no %q", tc.args, all, tc.dontWant)
		}
	}
}
