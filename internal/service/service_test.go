package service_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/service"
)

var update = flag.Bool("update", false, "rewrite the golden unit in packaging/")

// The packages ship exactly the unit `ppsync install` writes for the
// packaged paths.
func packaged() service.Unit {
	return service.Unit{Exe: "/usr/bin/ppsync", ConfigPath: "/etc/ppsync/config.toml", User: "ppsync", RWPaths: []string{"/srv/ppsync"}}
}

func TestPackagedUnitIsGolden(t *testing.T) {
	golden := filepath.Join("..", "..", "packaging", "ppsync.service")
	got := packaged().Systemd()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("packaging/ppsync.service differs from the rendered unit; run: go test ./internal/service -update\n--- got\n%s", got)
	}
	for _, must := range []string{"User=ppsync", "StateDirectory=ppsync", "ConfigurationDirectory=ppsync", "ProtectSystem=strict",
		"ReadWritePaths=-/srv/ppsync", "Restart=on-failure", "NoNewPrivileges=true", "SystemCallFilter=@system-service",
		"ExecStart=/usr/bin/ppsync run -c /etc/ppsync/config.toml"} {
		if !strings.Contains(got, must+"\n") {
			t.Errorf("unit lacks %q", must)
		}
	}
}

func TestUnitQuotesPathsWithSpaces(t *testing.T) {
	u := service.Unit{Exe: "/opt/pp sync/ppsync", ConfigPath: "/etc/ppsync/my config.toml", User: "svc",
		RWPaths: []string{"/srv/Scans Inbox", "/srv/a", "/srv/a"}}
	s := u.Systemd()
	for _, want := range []string{`ExecStart="/opt/pp sync/ppsync" run -c "/etc/ppsync/my config.toml"`, `ReadWritePaths=-"/srv/Scans Inbox"`, "User=svc"} {
		if !strings.Contains(s, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	if strings.Count(s, "ReadWritePaths=-/srv/a\n") != 1 {
		t.Error("duplicate ReadWritePaths not folded")
	}
}

func TestConfigPerPlatform(t *testing.T) {
	u := packaged()
	lin := service.Config("linux", u)
	if lin.Name != "ppsync" || lin.Option["SystemdScript"] != u.Systemd() || strings.Join(lin.Arguments, " ") != "run -c /etc/ppsync/config.toml" {
		t.Errorf("linux config = %+v", lin)
	}
	win := service.Config("windows", service.Unit{Exe: `C:\Program Files\ppsync\ppsync.exe`, ConfigPath: `C:\ProgramData\ppsync\config.toml`})
	if win.Option["DelayedAutoStart"] != true || win.Option["StartType"] != "automatic" || win.Option["OnFailure"] != "restart" || win.WorkingDirectory == "" {
		t.Errorf("windows config = %+v", win)
	}
	mac := service.Config("darwin", u)
	if mac.Option["KeepAlive"] != true || mac.Option["RunAtLoad"] != true {
		t.Errorf("darwin config = %+v", mac)
	}
}

// systemd-analyze verify checks the unit's syntax and directives.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is required in CI (apt-get install systemd)")
		}
		t.Skip("SKIPPED: systemd-analyze not installed")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	u := packaged()
	u.Exe = exe
	unit := filepath.Join(dir, "ppsync.service")
	if err := os.WriteFile(unit, []byte(u.Systemd()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", unit).CombinedOutput()
	// Lines about the host (no systemd running in a container, and so on)
	// are not about the unit; any line naming the unit file is.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "ppsync.service") {
			t.Errorf("systemd-analyze: %s", line)
		}
	}
	if err != nil && strings.Contains(string(out), "ppsync.service") {
		t.Fatalf("systemd-analyze verify failed: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze verify: %v\n%s", err, out)
}
