package wintest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Windows-only tests of ppsync's packages (files named *_windows_test.go),
// and portable tests of code that differs on Windows, built with
// GOOS=windows and run inside Wine. Every test listed must pass;
// one that skipped or is missing fails here.
func TestWindowsPackageTests(t *testing.T) {
	e := needWine(t)
	for _, tc := range []struct {
		pkg   string
		tests []string
	}{
		{"internal/service", []string{"TestApplyWindowsLevels", "TestApplyWindowsSteps"}},
		{"internal/ledger", []string{"TestLedgerHeldOpenWithoutSharing"}},
		{"internal/winpath", []string{"TestOdd", "TestExtendedAndPlain", "TestTrailingDotAndSpace"}},
		{"internal/results", []string{"TestRemoveStaleRemovesFilesNeverFolders"}},
	} {
		t.Run(strings.ReplaceAll(tc.pkg, "/", "_"), func(t *testing.T) {
			exe := filepath.Join(e.root, strings.ReplaceAll(tc.pkg, "/", "_")+".test.exe")
			build := exec.Command("go", "test", "-c", "-o", exe, "../../"+tc.pkg)
			build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=windows go test -c %s: %v\n%s", tc.pkg, err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			run := e.win(ctx, exe, "-test.v", "-test.count=1", "-test.run", "^("+strings.Join(tc.tests, "|")+")$")
			run.Env = append(run.Env, "PPSYNC_WINE=1")
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("%s under Wine: %v\n%s", tc.pkg, err, out)
			}
			for _, name := range tc.tests {
				if !strings.Contains(string(out), "--- PASS: "+name+" ") {
					t.Errorf("%s did not pass under Wine:\n%s", name, out)
				}
			}
			t.Logf("%s under Wine:\n%s", tc.pkg, out)
		})
	}
}
