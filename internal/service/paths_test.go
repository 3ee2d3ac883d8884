package service_test

import (
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/service"
)

func TestInstanceConfigPath(t *testing.T) {
	env := func(k string) string {
		if k == "ProgramData" {
			return `D:\Data`
		}
		return ""
	}
	for _, c := range []struct{ goos, instance, want string }{
		{"linux", "", "/etc/ppsync/config.toml"},
		{"linux", "acme", "/etc/ppsync/acme.toml"}, // the template unit ppsync@acme's config
		{"darwin", "", "/usr/local/etc/ppsync/config.toml"},
		{"darwin", "acme", "/usr/local/etc/ppsync/acme.toml"},
		{"windows", "", `D:\Data\ppsync\config.toml`},
		{"windows", "acme", `D:\Data\ppsync\acme\config.toml`},
	} {
		if got := service.InstanceConfigPath(c.goos, c.instance, env); got != c.want {
			t.Errorf("service.InstanceConfigPath(%s, %q) = %q, want %q", c.goos, c.instance, got, c.want)
		}
	}
}

func TestSiblingConfigPaths(t *testing.T) {
	var asked []string
	glob := func(p string) ([]string, error) { asked = append(asked, p); return []string{"found"}, nil }
	env := func(string) string { return `C:\ProgramData` }
	if got := service.SiblingConfigPaths("windows", env, glob); strings.Join(got, "|") != `C:\ProgramData\ppsync\config.toml|found` ||
		asked[0] != `C:\ProgramData\ppsync\*\config.toml` {
		t.Errorf("windows: %q, globbed %q", got, asked)
	}
	asked = nil
	if got := service.SiblingConfigPaths("linux", env, glob); strings.Join(got, "|") != "found" || asked[0] != "/etc/ppsync/*.toml" {
		t.Errorf("linux: %q, globbed %q", got, asked)
	}
}

// Two services must not share a state file or an admin address.
func TestInstanceConflict(t *testing.T) {
	cfgOf := func(file, state, listen string) *config.Config {
		c := &config.Config{File: file}
		c.State.Path, c.Admin.Listen = state, listen
		return c
	}
	acme := cfgOf("/etc/ppsync/acme.toml", "/var/lib/ppsync/acme/state.db", "127.0.0.1:8400")
	for _, c := range []struct {
		name   string
		goos   string
		other  *config.Config
		errHas []string // nil: no conflict
	}{
		{"its own file", "linux", cfgOf("/etc/ppsync/acme.toml", "/var/lib/ppsync/acme/state.db", "127.0.0.1:8400"), nil},
		{"distinct", "linux", cfgOf("/etc/ppsync/config.toml", "/var/lib/ppsync/state.db", "127.0.0.1:8401"), nil},
		{"same state", "linux", cfgOf("/etc/ppsync/config.toml", "/var/lib/ppsync/acme/./state.db", "127.0.0.1:8401"),
			[]string{"/etc/ppsync/acme.toml and /etc/ppsync/config.toml both keep their state in /var/lib/ppsync/acme/state.db", "[state] path"}},
		{"same state, other case, Windows", "windows", cfgOf(`C:\x\config.toml`, "/VAR/lib/ppsync/acme/state.db", "127.0.0.1:8401"), []string{"both keep their state"}},
		{"other case elsewhere", "linux", cfgOf("/etc/ppsync/b.toml", "/VAR/lib/ppsync/acme/state.db", "127.0.0.1:8401"), nil},
		{"same admin address", "linux", cfgOf("/etc/ppsync/b.toml", "/var/lib/ppsync/b/state.db", "127.0.0.1:8400"),
			[]string{`both set [admin] listen = "127.0.0.1:8400"`, "another port"}},
	} {
		err := service.InstanceConflict(c.goos, acme, []*config.Config{nil, c.other})
		if c.errHas == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no conflict found", c.name)
			continue
		}
		for _, want := range c.errHas {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error lacks %q: %v", c.name, want, err)
			}
		}
	}
	off := cfgOf("/etc/ppsync/c.toml", "/var/lib/ppsync/c/state.db", "off")
	if err := service.InstanceConflict("linux", off, []*config.Config{cfgOf("/etc/ppsync/d.toml", "/var/lib/ppsync/d/state.db", "off")}); err != nil {
		t.Errorf("two configs with the admin endpoint off: %v", err)
	}
}

// Two configs that both turn the admin endpoint off, or both ask for any
// free port, can run side by side.
func TestInstanceConflictIgnoresOffAndAnyPort(t *testing.T) {
	for _, listen := range []string{"off", "127.0.0.1:0"} {
		a, b := &config.Config{File: "/etc/ppsync/a.toml"}, &config.Config{File: "/etc/ppsync/b.toml"}
		a.State.Path, b.State.Path = "/var/lib/ppsync/a.db", "/var/lib/ppsync/b.db"
		a.Admin.Listen, b.Admin.Listen = listen, listen
		if err := service.InstanceConflict("linux", a, []*config.Config{b}); err != nil {
			t.Errorf("listen = %q in both: %v", listen, err)
		}
	}
}
