//go:build windows

package service

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"
)

// These tests create, change and delete a real service. test/windows runs
// them under Wine's service manager (PPSYNC_WINE=1); on a Windows machine,
// run them only on a disposable test system.
func needServiceManager(t *testing.T) {
	t.Helper()
	if os.Getenv("PPSYNC_WINE") != "1" {
		t.Skip("creates a real service: test/windows runs it under Wine (PPSYNC_WINE=1 go test ./test/windows/); " +
			"on Windows set PPSYNC_WINE=1 only on a disposable test system, as Administrator")
	}
}

const testService = "ppsync-exec-test"

func testPlan(t *testing.T) WindowsPlan {
	t.Helper()
	// Not t.TempDir: Go's RemoveAll asks for FileDispositionInformationEx,
	// which Wine 8 lacks; the Wine prefix is removed as a whole.
	root, err := os.MkdirTemp("", "ppsync-exec-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "ProgramData", "ppsync", "config.toml")
	p, err := PlanWindows(WindowsInput{Exe: os.Args[0], ProgramFiles: filepath.Join(root, "Program Files"),
		ProgramData: filepath.Join(root, "ProgramData"), ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	p.Name, p.EventSource = testService, testService
	p.Account = VirtualAccount(testService)
	p.AccountSID = VirtualAccountSID(testService)
	t.Cleanup(func() { _ = UninstallWindows(context.Background(), testService, testService) })
	return p
}

// The settings Wine 8 lacks (service SID, delayed start, recovery on an
// error exit): each succeeds (Windows) or fails
// with ERROR_INVALID_LEVEL (Wine 8); either way no half-made service is left.
func TestApplyWindowsLevels(t *testing.T) {
	for _, tc := range []struct {
		name, what                string
		sid, delayed, onErrorExit bool
	}{
		{"service SID", "give its service SID to service " + testService, true, false, false},
		{"delayed start", "set the delayed automatic start of service " + testService, false, true, false},
		{"restart on error exit", "apply the recovery actions of service " + testService + " also when it exits with an error", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testLevel(t, tc.what, tc.sid, tc.delayed, tc.onErrorExit) })
	}
}

func testLevel(t *testing.T, what string, sid, delayed, onErrorExit bool) {
	needServiceManager(t)
	p := testPlan(t)
	p.ServiceSID, p.DelayedAutoStart, p.RestartOnErrorExit = sid, delayed, onErrorExit
	err := ApplyWindows(context.Background(), p, "", &bytes.Buffer{})
	svc, qerr := QueryWindows(testService)
	if qerr != nil {
		t.Fatal(qerr)
	}
	switch {
	case err == nil:
		if svc == nil {
			t.Fatal("install succeeded but the service does not exist")
		}
		t.Logf("this service manager can %s", what)
		if err := UninstallWindows(context.Background(), testService, testService); err != nil {
			t.Fatal(err)
		}
	case errors.Is(err, windows.ERROR_INVALID_LEVEL):
		for _, want := range []string{what + ": ", "Wine 8 does not", "the new service " + testService + " was removed again"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if svc != nil {
			t.Errorf("the failed install left the service behind: %+v", svc)
		}
		t.Logf("this service manager cannot (Wine): %v", err)
	default:
		t.Fatalf("install: %v", err)
	}
}

// Every other step of install, then an upgrade in place, then uninstall,
// each read back from the system.
func TestApplyWindowsSteps(t *testing.T) {
	needServiceManager(t)
	p := testPlan(t)
	p.ServiceSID, p.DelayedAutoStart, p.RestartOnErrorExit = false, false, false // see TestApplyWindowsLevels
	var out bytes.Buffer
	if err := ApplyWindows(context.Background(), p, "", &out); err != nil {
		t.Fatalf("install: %v", err)
	}
	if !strings.Contains(out.String(), "copied ") {
		t.Errorf("output: %q", out.String())
	}
	for _, d := range p.Dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("folder %s: %v", d, err)
		}
	}
	if fi, err := os.Stat(p.Exe); err != nil || fi.Size() == 0 {
		t.Errorf("binary %s: %v", p.Exe, err)
	}
	for _, dir := range p.ACLPaths {
		sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatalf("read the access list of %s: %v", dir, err)
		}
		got := sd.String()
		if onWine() {
			// Wine keeps no access lists: it maps a DACL to Unix mode bits and
			// reads back one made from them. Checked on Windows only.
			t.Logf("Wine: access list of %s read back as %s (not kept)", dir, got)
			continue
		}
		for _, ace := range []string{"(A;OICI;FA;;;BA)", "(A;OICI;FA;;;SY)", ";;;" + p.AccountSID + ")", "D:PAI"} {
			if !strings.Contains(got, ace) {
				t.Errorf("access list of %s = %s, lacks %s", dir, got, ace)
			}
		}
	}

	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(testService)
	if err != nil {
		t.Fatalf("the service was not created: %v", err)
	}
	defer s.Close()
	c, err := basicConfig(s.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := windows.UTF16PtrToString(c.BinaryPathName), commandLine(p.Exe, p.Args); got != want {
		t.Errorf("command line = %s, want %s", got, want)
	}
	if got := windows.UTF16PtrToString(c.ServiceStartName); !strings.EqualFold(got, `NT SERVICE\`+testService) {
		t.Errorf("account = %q", got)
	}
	if c.StartType != mgr.StartAutomatic || windows.UTF16PtrToString(c.DisplayName) != DisplayName {
		t.Errorf("start type %d, display name %q", c.StartType, windows.UTF16PtrToString(c.DisplayName))
	}
	if d := config2(t, s, windows.SERVICE_CONFIG_DESCRIPTION); windows.UTF16PtrToString((*windows.SERVICE_DESCRIPTION)(unsafe.Pointer(&d[0])).Description) != Description {
		t.Errorf("description not set")
	}
	acts, err := s.RecoveryActions()
	switch {
	case errors.Is(err, windows.ERROR_INVALID_LEVEL) && onWine():
		// Wine accepts the recovery actions and keeps none. Checked on Windows only.
		t.Logf("Wine: the recovery actions cannot be read back: %v", err)
	case err != nil:
		t.Fatalf("read the recovery actions: %v", err)
	default:
		if len(acts) != 3 || acts[0].Type != mgr.ServiceRestart || acts[0].Delay != 10*time.Second || acts[2].Delay != time.Minute {
			t.Errorf("recovery actions = %+v", acts)
		}
		if reset, err := s.ResetPeriod(); err != nil || reset != 24*60*60 {
			t.Errorf("reset period = %d, %v", reset, err)
		}
	}
	const sources = `SYSTEM\CurrentControlSet\Services\EventLog\Application\`
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, sources+testService, registry.QUERY_VALUE)
	if err != nil {
		t.Fatalf("Event Log source %s not registered: %v", testService, err)
	}
	k.Close()

	// Upgrade in place: same account, new command line.
	existing, err := QueryWindows(testService)
	if err != nil || existing == nil {
		t.Fatalf("QueryWindows: %+v, %v", existing, err)
	}
	up := p
	up.Upgrade, up.CopyFrom, up.Args = true, "", []string{"run", "-c", `C:\elsewhere\config.toml`}
	if err := ApplyWindows(context.Background(), up, "", &bytes.Buffer{}); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if after, err := QueryWindows(testService); err != nil || after.BinaryPath != commandLine(up.Exe, up.Args) || after.Account != existing.Account {
		t.Errorf("after the upgrade: %+v, %v (before: %+v)", after, err, existing)
	}

	s.Close() // a service is deleted once its last handle is closed
	if err := UninstallWindows(context.Background(), testService, testService); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if gone, err := QueryWindows(testService); err != nil || gone != nil {
		t.Errorf("after uninstall: %+v, %v", gone, err)
	}
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, sources+testService, registry.QUERY_VALUE); err == nil {
		k.Close()
		t.Errorf("Event Log source %s still registered after uninstall", testService)
	}
}

func config2(t *testing.T, s *mgr.Service, level uint32) []byte {
	t.Helper()
	n := uint32(1024)
	for {
		b := make([]byte, n)
		err := windows.QueryServiceConfig2(s.Handle, level, &b[0], n, &n)
		if err == nil {
			return b
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			t.Fatalf("QueryServiceConfig2 level %d: %v", level, err)
		}
	}
}

// onWine reports Wine, which has the key HKLM\Software\Wine.
func onWine() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Wine`, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
}
