// Package packaging holds the package definitions; its test builds the
// .deb and checks what it installs.
package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDebPackage(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg-deb")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dpkg-deb is required in CI")
		}
		t.Skip("SKIPPED: dpkg-deb not installed")
	}
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: builds the packages (about a minute the first time)")
	}
	for _, script := range []string{"preinstall", "postinstall", "preremove", "postremove"} {
		if out, err := exec.Command("sh", "-n", filepath.Join("scripts", script+".sh")).CombinedOutput(); err != nil {
			t.Errorf("%s.sh: %v %s", script, err, out)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "packaging/build.sh", "1.2.3")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PPSYNC_DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "ppsync_1.2.3_amd64.deb")
	for _, f := range []string{deb, filepath.Join(dist, "ppsync-1.2.3-1.x86_64.rpm"), filepath.Join(dist, "windows-amd64", "ppsync.exe"),
		filepath.Join(dist, "windows-amd64", "install-windows.ps1")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	out, err := exec.Command(dpkg, "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	contents := string(out)
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/bin/ppsync",
		"-rw-r----- root/ppsync", "./etc/ppsync/config.toml",
		"-rw------- root/root", "./etc/ppsync/env",
		"-rw-r--r-- root/root", "./lib/systemd/system/ppsync.service",
		"./usr/share/doc/ppsync/config.example.toml",
	} {
		if !strings.Contains(contents, want) {
			t.Errorf("package contents lack %q:\n%s", want, contents)
		}
	}
	for _, line := range strings.Split(contents, "\n") {
		if strings.HasSuffix(line, "./etc/ppsync/env") && !strings.HasPrefix(line, "-rw------- ") {
			t.Errorf("env file (holds the key) is not 0600: %s", line)
		}
	}
	conf, err := exec.Command("sh", "-c", dpkg+" --ctrl-tarfile "+deb+" | tar -xO ./conffiles").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "/etc/ppsync/config.toml") || !strings.Contains(string(conf), "/etc/ppsync/env") {
		t.Errorf("conffiles = %q: the config must survive upgrades", conf)
	}
	info, _ := exec.Command(dpkg, "-I", deb).Output()
	for _, want := range []string{"Package: ppsync", "Version: 1.2.3", "preinst", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("control lacks %q", want)
		}
	}
	// The unit in the package is the golden unit; the binary reports the stamped version.
	unit, _ := exec.Command("sh", "-c", dpkg+" --fsys-tarfile "+deb+" | tar -xO ./lib/systemd/system/ppsync.service").Output()
	golden, _ := os.ReadFile("ppsync.service")
	if string(unit) != string(golden) {
		t.Error("packaged unit differs from packaging/ppsync.service")
	}
	v, err := exec.Command(filepath.Join(dist, "linux-amd64", "ppsync"), "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "ppsync 1.2.3" {
		t.Errorf("version = %q %v", v, err)
	}
	// The packaged config is valid once the inbox exists.
	cfg, _ := os.ReadFile("config.toml")
	if !strings.Contains(string(cfg), `path = "/var/lib/ppsync/state.db"`) {
		t.Error("packaged config does not keep the state in /var/lib/ppsync")
	}
}
