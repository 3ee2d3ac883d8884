package service

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// Well-known SIDs used in the ACL of ppsync's data folder. SIDs, never
// names: group names are translated on non-English Windows.
const (
	SIDAdministrators = "S-1-5-32-544"
	SIDLocalSystem    = "S-1-5-18"
)

// AccountKind is the kind of account a Windows service runs as.
type AccountKind int

// Account kinds. Only a password account needs a password; Windows
// manages the others' credentials.
const (
	AccountVirtual  AccountKind = iota // NT SERVICE\ppsync: per-service, no password, the computer's identity on the network
	AccountManaged                     // group managed service account DOMAIN\name$: no password
	AccountPassword                    // a domain or local user account: needs its password
	AccountSystem                      // LocalSystem, kept only when an older install used it
)

func (k AccountKind) String() string {
	switch k {
	case AccountVirtual:
		return "virtual account"
	case AccountManaged:
		return "group managed service account"
	case AccountPassword:
		return "user account"
	case AccountSystem:
		return "LocalSystem"
	}
	return "unknown account kind"
}

// Account is the account a Windows service runs as.
type Account struct {
	Name string // as the Service Control Manager stores it: NT SERVICE\ppsync, CORP\gmsa$, CORP\svc-ppsync, .\svc
	Kind AccountKind
}

// NeedsPassword reports whether installing under this account needs its password.
func (a Account) NeedsPassword() bool { return a.Kind == AccountPassword }

// VirtualAccount is the default account: NT SERVICE\<service name>.
func VirtualAccount(service string) Account {
	return Account{Name: `NT SERVICE\` + service, Kind: AccountVirtual}
}

// ParseAccount classifies the --user value of `ppsync install` on Windows.
// "" is the service's own virtual account.
func ParseAccount(service, name string) (Account, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return VirtualAccount(service), nil
	case strings.EqualFold(name, "LocalSystem"), strings.EqualFold(name, `NT AUTHORITY\SYSTEM`):
		return Account{}, fmt.Errorf("--user %s: LocalSystem has every right on this computer and none on the network shares; "+
			"leave --user out for the virtual account NT SERVICE\\%s, or give a domain or managed service account", name, service)
	case strings.ContainsAny(name, `"/[]:;|=,+*?<>`):
		return Account{}, fmt.Errorf("--user %q: not an account name (write DOMAIN\\name, name@domain, DOMAIN\\gmsa$ or NT SERVICE\\%s)", name, service)
	}
	domain, user, hasDomain := strings.Cut(name, `\`)
	if !hasDomain {
		if _, _, upn := strings.Cut(name, "@"); !upn {
			domain, user = ".", name // a local account
			name = `.\` + name
		} else {
			user = name
		}
	}
	switch {
	case user == "" || domain == "":
		return Account{}, fmt.Errorf("--user %q: empty domain or user name (write DOMAIN\\name)", name)
	case strings.EqualFold(domain, "NT SERVICE"):
		return Account{Name: name, Kind: AccountVirtual}, nil
	case strings.EqualFold(domain, "NT AUTHORITY"):
		return Account{}, fmt.Errorf("--user %s: built-in accounts are not supported; leave --user out for NT SERVICE\\%s", name, service)
	case strings.HasSuffix(user, "$"):
		return Account{Name: name, Kind: AccountManaged}, nil
	}
	return Account{Name: name, Kind: AccountPassword}, nil
}

// VirtualAccountSID computes the SID of NT SERVICE\<service>: S-1-5-80
// followed by the SHA-1 of the upper-cased UTF-16LE service name as five
// little-endian 32-bit numbers. It is known before the service exists.
func VirtualAccountSID(service string) string {
	u := utf16.Encode([]rune(strings.ToUpper(service)))
	buf := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(buf[2*i:], c)
	}
	sum := sha1.Sum(buf)
	parts := []string{"S-1-5-80"}
	for i := 0; i < 5; i++ {
		parts = append(parts, fmt.Sprint(binary.LittleEndian.Uint32(sum[4*i:])))
	}
	return strings.Join(parts, "-")
}

// Recovery is one failure action of the service: restart after Delay.
type Recovery struct {
	Delay time.Duration
}

// WindowsService is what the Service Control Manager knows of an
// installed ppsync service.
type WindowsService struct {
	Account    string // ServiceStartName: LocalSystem, NT SERVICE\ppsync, CORP\svc
	BinaryPath string // the full command line
	Running    bool
}

// WindowsInput is everything PlanWindows decides from.
type WindowsInput struct {
	Exe          string // the running ppsync.exe
	ProgramFiles string // %ProgramFiles%
	ProgramData  string // %ProgramData%
	ConfigPath   string // absolute
	User         string // --user, "" when not given
	Existing     *WindowsService
	// Instance is --name: "" for the service ppsync, else the service
	// ppsync-NAME with its binary in %ProgramFiles%\ppsync\NAME and its
	// data and logs in %ProgramData%\ppsync\NAME.
	Instance string
}

// WindowsPlan is what `ppsync install` does on Windows. The executor
// (windows only) carries it out in the order of the fields.
type WindowsPlan struct {
	Name, DisplayName, Description string
	Upgrade                        bool // the service exists: stop it, replace the binary, update it in place, keep its account
	WasRunning                     bool // start it again after an upgrade
	Dirs                           []string
	Exe                            string // where the service's binary lives
	CopyFrom                       string // copy the running binary to Exe first; "" when it already runs from there
	Args                           []string
	Account                        Account
	AccountSID                     string // known in advance for virtual accounts; "" = look the name up
	GrantServiceLogon              bool   // give the account "Log on as a service" (virtual accounts have it)
	ACLPaths                       []string
	DelayedAutoStart               bool
	// ServiceSID gives the service an unrestricted service SID
	// (NT SERVICE\<name> in its token). Always true from PlanWindows;
	// the Windows tests under Wine, whose service manager lacks service
	// SIDs, turn it off to run every other step.
	ServiceSID bool
	// RestartOnErrorExit applies Recovery also when the process exits with
	// an error, not only on a crash (true from PlanWindows; off in the Wine
	// tests, whose service manager lacks the setting).
	RestartOnErrorExit bool
	Recovery           []Recovery
	RecoveryReset      time.Duration // failure count resets after this long without failures
	EventSource        string
}

// PlanWindows decides what installing (or upgrading) the service does.
func PlanWindows(in WindowsInput) (WindowsPlan, error) {
	if in.ProgramFiles == "" || in.ProgramData == "" {
		return WindowsPlan{}, errors.New("%ProgramFiles% or %ProgramData% is not set: run ppsync install from an elevated Windows session")
	}
	if in.ConfigPath == "" {
		return WindowsPlan{}, errors.New("no config file given: pass -c FILE")
	}
	if err := CheckInstance(in.Instance); err != nil {
		return WindowsPlan{}, err
	}
	name := ServiceName("windows", in.Instance)
	installDir := winJoin(in.ProgramFiles, Name)
	dataDir := winJoin(in.ProgramData, Name)
	args := []string{"run", "--service", "-c", in.ConfigPath}
	if in.Instance != "" {
		// Its own binary: upgrading one service never replaces the file
		// another one runs.
		installDir, dataDir = winJoin(installDir, in.Instance), winJoin(dataDir, in.Instance)
		args = []string{"run", "--service", "--name", in.Instance, "-c", in.ConfigPath}
	}
	p := WindowsPlan{
		Name:               name,
		DisplayName:        InstanceDisplayName(in.Instance),
		Description:        Description,
		Dirs:               []string{installDir, dataDir, winJoin(dataDir, "logs")},
		Exe:                winJoin(installDir, Name+".exe"),
		Args:               args,
		ACLPaths:           []string{dataDir},
		DelayedAutoStart:   true,
		ServiceSID:         true,
		RestartOnErrorExit: true,
		Recovery:           []Recovery{{Delay: 10 * time.Second}, {Delay: 10 * time.Second}, {Delay: time.Minute}},
		RecoveryReset:      24 * time.Hour,
		EventSource:        name,
	}
	if cd := winDir(in.ConfigPath); !strings.EqualFold(cd, dataDir) {
		p.Dirs = append(p.Dirs, cd)
		p.ACLPaths = append(p.ACLPaths, cd)
	}
	if !strings.EqualFold(winClean(in.Exe), p.Exe) {
		p.CopyFrom = in.Exe
	}
	if ex := in.Existing; ex != nil {
		p.Upgrade, p.WasRunning = true, ex.Running
		kept := existingAccount(name, ex.Account)
		if in.User != "" {
			want, err := ParseAccount(name, in.User)
			if err != nil {
				return WindowsPlan{}, err
			}
			if !strings.EqualFold(want.Name, kept.Name) {
				return WindowsPlan{}, fmt.Errorf("the service is installed to run as %s; an upgrade keeps that account: leave --user out, "+
					"or change the account with 'ppsync uninstall' then 'ppsync install --user %s' (config and state are kept)", kept.Name, in.User)
			}
		}
		p.Account = kept
	} else {
		a, err := ParseAccount(name, in.User)
		if err != nil {
			return WindowsPlan{}, err
		}
		p.Account = a
	}
	switch p.Account.Kind {
	case AccountPassword, AccountManaged:
		p.GrantServiceLogon = true
	case AccountVirtual:
		_, svcName, _ := strings.Cut(p.Account.Name, `\`)
		p.AccountSID = VirtualAccountSID(svcName)
	case AccountSystem:
		p.AccountSID = SIDLocalSystem
	}
	return p, nil
}

func existingAccount(service, name string) Account {
	if name == "" || strings.EqualFold(name, "LocalSystem") || strings.EqualFold(name, `NT AUTHORITY\SYSTEM`) {
		return Account{Name: "LocalSystem", Kind: AccountSystem}
	}
	if a, err := ParseAccount(service, name); err == nil {
		return a
	}
	return Account{Name: name, Kind: AccountPassword}
}

// DACL is the protected access list of the data folders in SDDL:
// Administrators and SYSTEM full control, the service account modify
// (read, write, delete; not change permissions), inherited by every file
// and folder below, nothing inherited from above.
func DACL(accountSID string) string {
	const full, modify = "FA", "0x1301bf"
	d := "D:PAI" +
		"(A;OICI;" + full + ";;;" + SIDAdministrators + ")" +
		"(A;OICI;" + full + ";;;" + SIDLocalSystem + ")"
	if accountSID != SIDLocalSystem && accountSID != SIDAdministrators {
		d += "(A;OICI;" + modify + ";;;" + accountSID + ")"
	}
	return d
}

func winClean(p string) string {
	return strings.TrimRight(strings.ReplaceAll(p, "/", `\`), `\`)
}

func winJoin(dir, name string) string { return winClean(dir) + `\` + name }

func winDir(p string) string {
	p = winClean(p)
	if i := strings.LastIndex(p, `\`); i >= 0 {
		return p[:i]
	}
	return "."
}
