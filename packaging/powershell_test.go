package packaging_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// No PowerShell parser is available here, so the script stays small and
// this test catches the mistakes that broke it before.

// A variable followed by a colon ("$Config: ...") is read as a drive or
// scope reference; only the real scopes and drives may take one.
var scopedVar = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*):`)

var psScopes = map[string]bool{"env": true, "global": true, "script": true, "local": true, "private": true, "using": true, "variable": true, "function": true, "alias": true}

// nativeCall is a line that runs a program: the call operator, or a
// Windows tool by name.
var nativeCall = regexp.MustCompile(`^(?:&\s|(?:icacls|sc\.exe|sc|net|reg|ppsync(?:\.exe)?)\b)`)

func lintPowerShell(src string) []string {
	var problems []string
	if !regexp.MustCompile(`(?m)^Set-StrictMode -Version Latest\s*$`).MatchString(src) {
		problems = append(problems, "no 'Set-StrictMode -Version Latest'")
	}
	if !regexp.MustCompile(`(?m)^\$ErrorActionPreference = '?"?Stop'?"?\s*$`).MatchString(src) {
		problems = append(problems, "no \"$ErrorActionPreference = 'Stop'\"")
	}
	if regexp.MustCompile(`(?i)password\s*[=:]|\[string\]\$password|-password\b`).MatchString(src) {
		problems = append(problems, "takes a password as a parameter or argument: ppsync.exe asks for it")
	}
	lines := strings.Split(src, "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, m := range scopedVar.FindAllStringSubmatch(line, -1) {
			if !psScopes[strings.ToLower(m[1])] {
				problems = append(problems, fmt.Sprintf("line %d: $%s: is read as a drive reference; write ${%s}:", i+1, m[1], m[1]))
			}
		}
		if nativeCall.MatchString(line) {
			next := ""
			for _, l := range lines[i+1:] {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					next = l
					break
				}
			}
			if !strings.Contains(next, "$LASTEXITCODE") {
				problems = append(problems, fmt.Sprintf("line %d: %q is not followed by a $LASTEXITCODE check", i+1, line))
			}
		}
	}
	return problems
}

func TestInstallWindowsScript(t *testing.T) {
	b, err := os.ReadFile("install-windows.ps1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lintPowerShell(string(b)) {
		t.Errorf("install-windows.ps1: %s", p)
	}
	src := string(b)
	for _, want := range []string{"install', '-c'", "--user", "& $exe start", "${Config}:"} {
		if !strings.Contains(src, want) {
			t.Errorf("install-windows.ps1 lacks %q", want)
		}
	}
	for _, gone := range []string{"icacls", "sc.exe", "uninstall"} {
		if strings.Contains(src, gone) {
			t.Errorf("install-windows.ps1 still does %q itself: ppsync.exe install does it", gone)
		}
	}
}

// The checker itself finds each class of mistake.
func TestInstallWindowsScriptLint(t *testing.T) {
	good := "Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"variable before a colon", good + `Write-Host "No config at $Config: copy it"` + "\n", "$Config: is read as a drive"},
		{"unchecked call", good + "& $exe check -c $Config\nWrite-Host done\n", "not followed by a $LASTEXITCODE check"},
		{"unchecked tool", good + "icacls $dir /grant x\n", "not followed by a $LASTEXITCODE check"},
		{"no strict mode", "$ErrorActionPreference = 'Stop'\n", "Set-StrictMode"},
		{"errors ignored", "Set-StrictMode -Version Latest\n", "ErrorActionPreference"},
		{"password parameter", good + "param([string]$Password)\n", "password"},
	} {
		problems := strings.Join(lintPowerShell(tc.src), "\n")
		if !strings.Contains(problems, tc.want) {
			t.Errorf("%s: problems %q lack %q", tc.name, problems, tc.want)
		}
	}
	clean := good + "Write-Host \"at ${Config}: $env:ProgramData\"\n& $exe start\nif ($LASTEXITCODE -ne 0) { throw 'x' }\n"
	if p := lintPowerShell(clean); len(p) != 0 {
		t.Errorf("clean script flagged: %q", p)
	}
}
