package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/service"
)

func TestParseAccount(t *testing.T) {
	for _, tc := range []struct {
		in       string
		name     string
		kind     service.AccountKind
		password bool
		errHas   string
	}{
		{"", `NT SERVICE\ppsync`, service.AccountVirtual, false, ""},
		{`NT SERVICE\ppsync`, `NT SERVICE\ppsync`, service.AccountVirtual, false, ""},
		{`CORP\gmsa-ppsync$`, `CORP\gmsa-ppsync$`, service.AccountManaged, false, ""},
		{`CORP\svc-ppsync`, `CORP\svc-ppsync`, service.AccountPassword, true, ""},
		{`svc@corp.example`, `svc@corp.example`, service.AccountPassword, true, ""},
		{`svc`, `.\svc`, service.AccountPassword, true, ""},
		{`LocalSystem`, "", 0, false, "LocalSystem has every right"},
		{`NT AUTHORITY\NetworkService`, "", 0, false, "built-in accounts"},
		{`CORP\`, "", 0, false, "empty domain or user"},
		{`CORP\a:b`, "", 0, false, "not an account name"},
	} {
		a, err := service.ParseAccount("ppsync", tc.in)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || a.Name != tc.name || a.Kind != tc.kind || a.NeedsPassword() != tc.password {
			t.Errorf("%q: got %+v (password %v) %v, want %s %v password %v", tc.in, a, a.NeedsPassword(), err, tc.name, tc.kind, tc.password)
		}
	}
}

// The algorithm must give Windows' own SID for a known service account.
func TestVirtualAccountSID(t *testing.T) {
	if got, want := service.VirtualAccountSID("TrustedInstaller"), "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"; got != want {
		t.Errorf("NT SERVICE\\TrustedInstaller = %s, want %s", got, want)
	}
	if service.VirtualAccountSID("ppsync") != service.VirtualAccountSID("PPSYNC") {
		t.Error("service names are case-insensitive; their SIDs must be too")
	}
}

func TestDACLBySID(t *testing.T) {
	d := service.DACL("S-1-5-21-1-2-3-1001")
	for _, want := range []string{"D:PAI", "(A;OICI;FA;;;S-1-5-32-544)", "(A;OICI;FA;;;S-1-5-18)", "(A;OICI;0x1301bf;;;S-1-5-21-1-2-3-1001)"} {
		if !strings.Contains(d, want) {
			t.Errorf("DACL %s lacks %s", d, want)
		}
	}
	for _, name := range []string{"Administrators", "SYSTEM", "BA", "SY"} {
		if strings.Contains(d, ";"+name+")") {
			t.Errorf("DACL %s names a group instead of its SID", d)
		}
	}
	if d := service.DACL(service.SIDLocalSystem); strings.Count(d, "(A;") != 2 {
		t.Errorf("LocalSystem account: DACL %s should not repeat SYSTEM", d)
	}
}

func TestPlanWindows(t *testing.T) {
	base := service.WindowsInput{
		Exe:          `C:\Users\admin\Downloads\ppsync.exe`,
		ProgramFiles: `C:\Program Files`,
		ProgramData:  `C:\ProgramData`,
		ConfigPath:   `C:\ProgramData\ppsync\config.toml`,
	}
	t.Run("fresh install, virtual account", func(t *testing.T) {
		p, err := service.PlanWindows(base)
		if err != nil {
			t.Fatal(err)
		}
		if p.Upgrade || p.Exe != `C:\Program Files\ppsync\ppsync.exe` || p.CopyFrom != base.Exe {
			t.Errorf("plan = %+v", p)
		}
		if p.Account.Name != `NT SERVICE\ppsync` || p.AccountSID != service.VirtualAccountSID("ppsync") || p.Account.NeedsPassword() || p.GrantServiceLogon {
			t.Errorf("account = %+v sid %s", p.Account, p.AccountSID)
		}
		if strings.Join(p.Args, " ") != `run --service -c C:\ProgramData\ppsync\config.toml` {
			t.Errorf("args = %q", p.Args)
		}
		if len(p.ACLPaths) != 1 || p.ACLPaths[0] != `C:\ProgramData\ppsync` {
			t.Errorf("ACL paths = %q", p.ACLPaths)
		}
		if !p.ServiceSID || !p.RestartOnErrorExit {
			t.Errorf("service SID %v, restart on an error exit %v: want both", p.ServiceSID, p.RestartOnErrorExit)
		}
		if !p.DelayedAutoStart || len(p.Recovery) == 0 || p.Recovery[0].Delay != 10*time.Second || p.RecoveryReset != 24*time.Hour || p.EventSource != "ppsync" {
			t.Errorf("start/recovery/eventlog = %v %v %v %q", p.DelayedAutoStart, p.Recovery, p.RecoveryReset, p.EventSource)
		}
		if !contains(p.Dirs, `C:\ProgramData\ppsync\logs`) {
			t.Errorf("dirs = %q lack the log folder", p.Dirs)
		}
	})
	t.Run("domain account needs its password, SID looked up", func(t *testing.T) {
		in := base
		in.User = `CORP\svc-ppsync`
		p, err := service.PlanWindows(in)
		if err != nil || !p.Account.NeedsPassword() || p.AccountSID != "" || !p.GrantServiceLogon {
			t.Errorf("plan = %+v, %v", p, err)
		}
	})
	t.Run("gMSA needs no password", func(t *testing.T) {
		in := base
		in.User = `CORP\gmsa-ppsync$`
		p, err := service.PlanWindows(in)
		if err != nil || p.Account.Kind != service.AccountManaged || p.Account.NeedsPassword() || !p.GrantServiceLogon {
			t.Errorf("plan = %+v, %v", p, err)
		}
	})
	t.Run("runs from the install folder: nothing to copy", func(t *testing.T) {
		in := base
		in.Exe = `c:\program files\PPSYNC\ppsync.exe`
		p, err := service.PlanWindows(in)
		if err != nil || p.CopyFrom != "" {
			t.Errorf("CopyFrom = %q, %v", p.CopyFrom, err)
		}
	})
	t.Run("config elsewhere is protected too", func(t *testing.T) {
		in := base
		in.ConfigPath = `D:\ppsync\config.toml`
		p, err := service.PlanWindows(in)
		if err != nil || !contains(p.ACLPaths, `D:\ppsync`) || !contains(p.ACLPaths, `C:\ProgramData\ppsync`) || !contains(p.Dirs, `D:\ppsync`) {
			t.Errorf("ACL paths %q dirs %q, %v", p.ACLPaths, p.Dirs, err)
		}
	})
	t.Run("upgrade keeps the account and asks no password", func(t *testing.T) {
		in := base
		in.Existing = &service.WindowsService{Account: `CORP\svc-ppsync`, BinaryPath: `"C:\Program Files\ppsync\ppsync.exe" run -c x`, Running: true}
		p, err := service.PlanWindows(in)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Upgrade || !p.WasRunning || p.Account.Name != `CORP\svc-ppsync` || p.CopyFrom == "" {
			t.Errorf("plan = %+v", p)
		}
		in.User = `corp\SVC-ppsync` // the same account, named differently
		if _, err := service.PlanWindows(in); err != nil {
			t.Errorf("same account given again: %v", err)
		}
		in.User = `CORP\other`
		if _, err := service.PlanWindows(in); err == nil || !strings.Contains(err.Error(), "keeps that account") {
			t.Errorf("other account on upgrade: err = %v", err)
		}
	})
	t.Run("upgrade of a LocalSystem install keeps LocalSystem", func(t *testing.T) {
		in := base
		in.Existing = &service.WindowsService{Account: "LocalSystem"}
		p, err := service.PlanWindows(in)
		if err != nil || p.Account.Kind != service.AccountSystem || p.AccountSID != service.SIDLocalSystem || p.WasRunning {
			t.Errorf("plan = %+v, %v", p, err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, in := range []service.WindowsInput{
			{Exe: base.Exe, ConfigPath: base.ConfigPath},
			{Exe: base.Exe, ProgramFiles: base.ProgramFiles, ProgramData: base.ProgramData},
			{Exe: base.Exe, ProgramFiles: base.ProgramFiles, ProgramData: base.ProgramData, ConfigPath: base.ConfigPath, User: "LocalSystem"},
		} {
			if _, err := service.PlanWindows(in); err == nil {
				t.Errorf("%+v: no error", in)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
