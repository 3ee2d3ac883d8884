package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errOut := run(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		for _, w := range []string{"ppsync ", "commit:", "go:          " + runtime.Version(), "platform:    " + runtime.GOOS + "/" + runtime.GOARCH} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: %q lacks %q", args, out, w)
			}
		}
	}
	code, out, _ := run(t, nil, "version", "--json")
	var v struct {
		Version, Platform string
		GoVersion         string `json:"go_version"`
		Modified          *bool
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
		t.Fatalf("version --json: %d %v %q", code, err, out)
	}
	if v.Version == "" || v.GoVersion != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH || v.Modified == nil {
		t.Errorf("version --json: %+v", v)
	}
}
