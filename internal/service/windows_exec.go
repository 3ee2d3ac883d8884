//go:build windows

package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// QueryWindows returns what the Service Control Manager knows of the
// service name, or nil when it is not installed.
func QueryWindows(name string) (*WindowsService, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("connect to the Service Control Manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open service %s: %w", name, err)
	}
	defer s.Close()
	c, err := basicConfig(s.Handle)
	if err != nil {
		return nil, fmt.Errorf("read the configuration of service %s: %w", name, err)
	}
	st, err := s.Query()
	if err != nil {
		return nil, fmt.Errorf("query service %s: %w", name, err)
	}
	return &WindowsService{Account: windows.UTF16PtrToString(c.ServiceStartName), BinaryPath: windows.UTF16PtrToString(c.BinaryPathName),
		Running: st.State != svc.Stopped}, nil
}

// basicConfig reads QUERY_SERVICE_CONFIG alone. (mgr's Config also asks
// for the SID type, which not every service manager knows.)
func basicConfig(h windows.Handle) (*windows.QUERY_SERVICE_CONFIG, error) {
	n := uint32(1024)
	for {
		b := make([]byte, n)
		c := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(h, c, n, &n)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return nil, err
		}
	}
}

// configure sets what CreateService and ChangeServiceConfig cannot: the
// description, the delayed automatic start and the unrestricted service
// SID (the last two as p asks).
func configure(h windows.Handle, p WindowsPlan) error {
	desc, err := windows.UTF16PtrFromString(p.Description)
	if err != nil {
		return err
	}
	d := windows.SERVICE_DESCRIPTION{Description: desc}
	delayed := windows.SERVICE_DELAYED_AUTO_START_INFO{IsDelayedAutoStartUp: 1}
	sidType := uint32(windows.SERVICE_SID_TYPE_UNRESTRICTED)
	for _, step := range []struct {
		want  bool
		what  string
		level uint32
		info  unsafe.Pointer
	}{
		{true, "set the description of", windows.SERVICE_CONFIG_DESCRIPTION, unsafe.Pointer(&d)},
		{p.DelayedAutoStart, "set the delayed automatic start of", windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, unsafe.Pointer(&delayed)},
		{p.ServiceSID, "give its service SID to", windows.SERVICE_CONFIG_SERVICE_SID_INFO, unsafe.Pointer(&sidType)},
	} {
		if !step.want {
			continue
		}
		if err := windows.ChangeServiceConfig2(h, step.level, (*byte)(step.info)); err != nil {
			return levelHint(fmt.Errorf("%s service %s: %w", step.what, p.Name, err))
		}
	}
	return nil
}

// levelHint explains ERROR_INVALID_LEVEL, a ChangeServiceConfig2 setting
// the service manager does not know.
func levelHint(err error) error {
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		return fmt.Errorf("%w (this service manager lacks the setting: Windows has it since Vista and Server 2008; "+
			"Wine 8 does not, see docs/install.md)", err)
	}
	return err
}

// ApplyWindows carries out p. password is used only for a new service
// under a password account.
func ApplyWindows(ctx context.Context, p WindowsPlan, password string, out io.Writer) (retErr error) {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the Service Control Manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	var s *mgr.Service
	if p.Upgrade {
		if s, err = m.OpenService(p.Name); err != nil {
			return fmt.Errorf("open service %s for the upgrade: %w", p.Name, err)
		}
		defer s.Close()
		if err := stopAndWait(ctx, s); err != nil {
			return err
		}
	}
	for _, d := range p.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create folder %s: %w", d, err)
		}
	}
	if p.CopyFrom != "" {
		if err := copyExe(p.CopyFrom, p.Exe); err != nil {
			return err
		}
		fmt.Fprintf(out, "copied %s to %s\n", p.CopyFrom, p.Exe)
	}
	sid := p.AccountSID
	if sid == "" {
		acct, _, _, err := windows.LookupSID("", p.Account.Name)
		if err != nil {
			return fmt.Errorf("look up account %s: %w (check the name; a domain account needs this computer in the domain)", p.Account.Name, err)
		}
		sid = acct.String()
	}
	if p.GrantServiceLogon {
		if err := grantServiceLogon(sid); err != nil {
			return fmt.Errorf("give %s the right to log on as a service: %w (grant it in secpol.msc or by group policy, then run install again)", p.Account.Name, err)
		}
	}
	for _, dir := range p.ACLPaths {
		if err := setDACL(dir, DACL(sid)); err != nil {
			return err
		}
	}
	if p.Upgrade {
		bin, err := windows.UTF16PtrFromString(commandLine(p.Exe, p.Args))
		if err != nil {
			return err
		}
		display, err := windows.UTF16PtrFromString(p.DisplayName)
		if err != nil {
			return err
		}
		// The account and its password: nil, unchanged.
		if err := windows.ChangeServiceConfig(s.Handle, windows.SERVICE_NO_CHANGE, mgr.StartAutomatic, windows.SERVICE_NO_CHANGE,
			bin, nil, nil, nil, nil, nil, display); err != nil {
			return fmt.Errorf("update service %s: %w", p.Name, err)
		}
		if err := configure(s.Handle, p); err != nil {
			return err
		}
	} else {
		s, err = m.CreateService(p.Name, p.Exe, mgr.Config{
			StartType:        mgr.StartAutomatic,
			ErrorControl:     mgr.ErrorNormal,
			DisplayName:      p.DisplayName,
			ServiceStartName: p.Account.Name,
			Password:         password,
		}, p.Args...)
		if err != nil {
			return fmt.Errorf("create service %s running as %s: %w", p.Name, p.Account.Name, err)
		}
		defer s.Close()
		// A new service is created whole or not at all: a later step that
		// fails deletes it, so that running install again starts afresh.
		defer func() {
			if retErr != nil {
				_ = s.Delete()
				retErr = fmt.Errorf("%w (the new service %s was removed again)", retErr, p.Name)
			}
		}()
		if err := configure(s.Handle, p); err != nil {
			return err
		}
	}
	if len(p.Recovery) > 0 {
		actions := make([]mgr.RecoveryAction, len(p.Recovery))
		for i, r := range p.Recovery {
			actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: r.Delay}
		}
		if err := s.SetRecoveryActions(actions, uint32(p.RecoveryReset/time.Second)); err != nil {
			return levelHint(fmt.Errorf("set the recovery actions of service %s: %w", p.Name, err))
		}
	}
	if len(p.Recovery) > 0 && p.RestartOnErrorExit {
		if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
			return levelHint(fmt.Errorf("apply the recovery actions of service %s also when it exits with an error: %w", p.Name, err))
		}
	}
	if err := eventlog.InstallAsEventCreate(p.EventSource, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("register Event Log source %s: %w", p.EventSource, err)
	}
	if p.Upgrade && p.WasRunning {
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service %s again after the upgrade: %w", p.Name, err)
		}
	}
	return nil
}

// UninstallWindows stops and removes the service and its Event Log
// source. Config, state and logs stay.
func UninstallWindows(ctx context.Context, name, eventSource string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the Service Control Manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("open service %s (is it installed?): %w", name, err)
	}
	defer s.Close()
	if err := stopAndWait(ctx, s); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	// A source already gone (an install that failed before registering
	// it, or removed by hand) is fine.
	if err := eventlog.Remove(eventSource); err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return fmt.Errorf("remove Event Log source %s: %w", eventSource, err)
	}
	return nil
}

// WindowsProbe reports the state of service name for ConfirmRunning.
func WindowsProbe(name string) func(context.Context) (State, error) {
	return func(context.Context) (State, error) {
		m, err := mgr.Connect()
		if err != nil {
			return State{}, err
		}
		defer m.Disconnect()
		s, err := m.OpenService(name)
		if err != nil {
			return State{}, err
		}
		defer s.Close()
		st, err := s.Query()
		if err != nil {
			return State{}, err
		}
		switch st.State {
		case svc.Running:
			return State{Phase: PhaseRunning, Detail: "running"}, nil
		case svc.StartPending:
			return State{Phase: PhaseStarting, Detail: "start pending"}, nil
		}
		return State{Phase: PhaseStopped, Detail: fmt.Sprintf("state %d, exit code %d, service exit code %d; see the Event Log and %%ProgramData%%\\ppsync\\logs",
			st.State, st.Win32ExitCode, st.ServiceSpecificExitCode)}, nil
	}
}

func stopAndWait(ctx context.Context, s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", s.Name, err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %s: %w", s.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	for {
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("query service %s: %w", s.Name, err)
		}
		if st.State == svc.Stopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s did not stop within 40 s: %w", s.Name, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// copyExe copies the binary next to its destination, then renames it
// over the old one (the service is stopped, so the old file is free).
func copyExe(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("open %s: %w", from, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), ".ppsync-*.exe")
	if err != nil {
		return fmt.Errorf("copy the binary to %s: %w", filepath.Dir(to), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("copy %s to %s: %w", from, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", from, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return fmt.Errorf("replace %s: %w", to, err)
	}
	return nil
}

func setDACL(path, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("build the access list %s: %w", sddl, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("build the access list %s: %w", sddl, err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to Administrators, SYSTEM and the service account: %w", path, err)
	}
	return nil
}

func commandLine(exe string, args []string) string {
	parts := []string{syscall.EscapeArg(exe)}
	for _, a := range args {
		parts = append(parts, syscall.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}

var (
	advapi32             = windows.NewLazySystemDLL("advapi32.dll")
	procLsaOpenPolicy    = advapi32.NewProc("LsaOpenPolicy")
	procLsaAddAcctRights = advapi32.NewProc("LsaAddAccountRights")
	procLsaClose         = advapi32.NewProc("LsaClose")
)

// lsaObjectAttributes is LSA_OBJECT_ATTRIBUTES; LsaOpenPolicy wants it zeroed.
type lsaObjectAttributes struct {
	Length                   uint32
	RootDirectory            windows.Handle
	ObjectName               *windows.NTUnicodeString
	Attributes               uint32
	SecurityDescriptor       uintptr
	SecurityQualityOfService uintptr
}

// grantServiceLogon gives the account SeServiceLogonRight in the local
// security policy, as the Services console does when an account is set
// there; CreateService does not. Granting a right the account has is a
// no-op.
func grantServiceLogon(sidString string) error {
	const policyCreateAccount, policyLookupNames = 0x10, 0x800
	sid, err := windows.StringToSid(sidString)
	if err != nil {
		return fmt.Errorf("parse SID %s: %w", sidString, err)
	}
	var attrs lsaObjectAttributes
	var policy windows.Handle
	r, _, _ := procLsaOpenPolicy.Call(0, uintptr(unsafe.Pointer(&attrs)), policyCreateAccount|policyLookupNames, uintptr(unsafe.Pointer(&policy)))
	if r != 0 {
		return fmt.Errorf("open the local security policy: %w", windows.NTStatus(r).Errno())
	}
	defer procLsaClose.Call(uintptr(policy))
	right, err := windows.NewNTUnicodeString("SeServiceLogonRight")
	if err != nil {
		return err
	}
	r, _, _ = procLsaAddAcctRights.Call(uintptr(policy), uintptr(unsafe.Pointer(sid)), uintptr(unsafe.Pointer(right)), 1)
	if r != 0 {
		return fmt.Errorf("add SeServiceLogonRight: %w", windows.NTStatus(r).Errno())
	}
	return nil
}
