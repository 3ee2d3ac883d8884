package service

import (
	"strings"
	"testing"
)

func TestInstalledText(t *testing.T) {
	if got, want := installedText("ppsync-b", "/etc/ppsync/b.toml", "b"),
		"installed service \"ppsync-b\" with config /etc/ppsync/b.toml\nstart it with: ppsync start --name b\n"; got != want {
		t.Errorf("installedText = %q, want %q", got, want)
	}
	plan := WindowsPlan{Name: "ppsync", Exe: `C:\Program Files\ppsync\ppsync.exe`, Account: Account{Name: `NT SERVICE\ppsync`}}
	if got, want := installedWindowsText(plan, `C:\ProgramData\ppsync\config.toml`, ""),
		"installed service \"ppsync\" (C:\\Program Files\\ppsync\\ppsync.exe, delayed automatic start, restarts on failure) running as NT SERVICE\\ppsync, config C:\\ProgramData\\ppsync\\config.toml\nstart it with: ppsync start\n"; got != want {
		t.Errorf("installedWindowsText = %q, want %q", got, want)
	}
	plan.Upgrade = true
	if got, want := installedWindowsText(plan, `C:\ProgramData\ppsync\config.toml`, ""),
		"upgraded service \"ppsync\" to C:\\Program Files\\ppsync\\ppsync.exe, still running as NT SERVICE\\ppsync, config C:\\ProgramData\\ppsync\\config.toml\n"; got != want {
		t.Errorf("an upgrade = %q, want %q", got, want)
	}
}

func TestDoneText(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"ProgramData": `C:\ProgramData`}[k] }
	for _, c := range []struct{ goos, action, want string }{
		{"linux", "stop", "stop: done\n"},
		{"linux", "uninstall", "uninstall: done\n"},
		{"windows", "restart", "restart: done\n"},
	} {
		if got := doneText(c.goos, c.action, "", getenv); got != c.want {
			t.Errorf("doneText(%s, %s) = %q, want %q", c.goos, c.action, got, c.want)
		}
	}
	if got := doneText("windows", "uninstall", "", getenv); !strings.HasPrefix(got, "uninstall: done (the config, the state and the logs in ") ||
		!strings.HasSuffix(got, " are kept)\n") {
		t.Errorf("a Windows uninstall = %q, want it to say what it keeps", got)
	}
}
