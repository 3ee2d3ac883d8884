package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/service"
)

func TestCheckInstance(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"", true}, {"acme", true}, {"client-2", true}, {"a_b", true}, {"0", true},
		{strings.Repeat("a", 32), true}, {strings.Repeat("a", 33), false},
		{"Acme", false}, {"-acme", false}, {"ac me", false}, {"acme.", false}, {`a\b`, false}, {"a/b", false}, {"a@b", false},
	} {
		err := service.CheckInstance(c.name)
		if (err == nil) != c.ok {
			t.Errorf("CheckInstance(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--name") {
			t.Errorf("CheckInstance(%q): the error does not name --name: %v", c.name, err)
		}
	}
}

func TestServiceNamePerPlatform(t *testing.T) {
	for _, c := range []struct{ goos, instance, want string }{
		{"linux", "", "ppsync"}, {"windows", "", "ppsync"}, {"darwin", "", "ppsync"},
		{"linux", "acme", "ppsync@acme"}, {"windows", "acme", "ppsync-acme"}, {"darwin", "acme", "ppsync-acme"},
	} {
		if got := service.ServiceName(c.goos, c.instance); got != c.want {
			t.Errorf("ServiceName(%s, %q) = %q, want %q", c.goos, c.instance, got, c.want)
		}
	}
}

// The unit `ppsync install --name NAME` writes on Linux is the template
// unit the packages ship (packaging/ppsync@.service) for that instance,
// line for line but for the template's opening comment: ppsync@NAME is the
// same service whichever of the two defines it.
func TestInstanceUnitIsTheTemplate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "ppsync@.service"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if len(tmpl) == 0 && strings.HasPrefix(line, "#") {
			continue // the template's own header
		}
		tmpl = append(tmpl, line)
	}
	u := service.Unit{Exe: "/usr/bin/ppsync", ConfigPath: "/etc/ppsync/%i.toml", User: "ppsync", RWPaths: []string{"/srv/ppsync"}, Instance: "%i"}
	if got := u.Systemd(); got != strings.Join(tmpl, "") {
		t.Errorf("the instance unit differs from packaging/ppsync@.service:\n--- got\n%s\n--- template\n%s", got, strings.Join(tmpl, ""))
	}
	u.Instance, u.ConfigPath = "acme", "/etc/ppsync/acme.toml"
	unit := u.Systemd()
	for _, want := range []string{"EnvironmentFile=-/etc/ppsync/acme.env\n", "StateDirectory=ppsync/acme\n",
		"ExecStart=/usr/bin/ppsync run -c /etc/ppsync/acme.toml\n", "Description=ppsync (PerfectParser folder sync), instance acme\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit of ppsync@acme lacks %q", want)
		}
	}
	c := service.Config("linux", u)
	if c.Name != "ppsync@acme" || c.Option["SystemdScript"] != unit {
		t.Errorf("linux config of instance acme: name %q", c.Name)
	}
}

func TestInstanceConfigPerPlatform(t *testing.T) {
	win := service.Config("windows", service.Unit{Exe: `C:\Program Files\ppsync\acme\ppsync.exe`, ConfigPath: `C:\ProgramData\ppsync\acme\config.toml`, Instance: "acme"})
	if win.Name != "ppsync-acme" || !strings.HasSuffix(win.DisplayName, ", instance acme") {
		t.Errorf("windows config of instance acme = %+v", win)
	}
	mac := service.Config("darwin", service.Unit{Exe: "/usr/local/bin/ppsync", ConfigPath: "/usr/local/etc/ppsync/acme.toml", Instance: "acme"})
	if mac.Name != "ppsync-acme" || strings.Join(mac.Arguments, " ") != "run -c /usr/local/etc/ppsync/acme.toml" || mac.Option["KeepAlive"] != true {
		t.Errorf("darwin config of instance acme = %+v", mac)
	}
}

// `ppsync install --name acme` on Windows: the service ppsync-acme with its
// own binary, data and log folders, virtual account and Event Log source,
// and a command line that names the instance.
func TestPlanWindowsInstance(t *testing.T) {
	in := service.WindowsInput{Exe: `C:\Users\a\Downloads\ppsync.exe`, ProgramFiles: `C:\Program Files`, ProgramData: `C:\ProgramData`,
		ConfigPath: `C:\ProgramData\ppsync\acme\config.toml`, Instance: "acme"}
	p, err := service.PlanWindows(in)
	if err != nil {
		t.Fatal(err)
	}
	want := struct {
		name, exe, args, account, sid, source string
		dirs, acl                             []string
	}{
		"ppsync-acme", `C:\Program Files\ppsync\acme\ppsync.exe`, `run --service --name acme -c C:\ProgramData\ppsync\acme\config.toml`,
		`NT SERVICE\ppsync-acme`, service.VirtualAccountSID("ppsync-acme"), "ppsync-acme",
		[]string{`C:\Program Files\ppsync\acme`, `C:\ProgramData\ppsync\acme`, `C:\ProgramData\ppsync\acme\logs`},
		[]string{`C:\ProgramData\ppsync\acme`},
	}
	if p.Name != want.name || p.Exe != want.exe || strings.Join(p.Args, " ") != want.args || p.Account.Name != want.account ||
		p.AccountSID != want.sid || p.EventSource != want.source || strings.Join(p.Dirs, "|") != strings.Join(want.dirs, "|") ||
		strings.Join(p.ACLPaths, "|") != strings.Join(want.acl, "|") || p.CopyFrom != in.Exe {
		t.Errorf("plan for instance acme:\n got %+v\nwant %+v", p, want)
	}
	def, err := service.PlanWindows(service.WindowsInput{Exe: in.Exe, ProgramFiles: in.ProgramFiles, ProgramData: in.ProgramData, ConfigPath: `C:\ProgramData\ppsync\config.toml`})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "ppsync" || def.Exe == p.Exe || def.Dirs[1] == p.Dirs[1] || def.EventSource == p.EventSource {
		t.Errorf("the default service and instance acme share a name, binary, folder or source: %+v", def)
	}
	in.Instance = "Bad Name"
	if _, err := service.PlanWindows(in); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("PlanWindows with --name %q: %v", in.Instance, err)
	}
}
