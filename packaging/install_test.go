//go:build linux

package packaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
)

// testInstallPerREADME follows the README's "Installing it as a service →
// Linux: the package" section literally, in the package's own layout:
//
//	sudo apt install ./dist/ppsync_1.0.0_amd64.deb   → dpkg -i (CI has no apt repository)
//	sudoedit /etc/ppsync/env                          → PP_API_KEY=... into the packaged file
//	sudoedit /etc/ppsync/config.toml                  → parser_id and the inbox path (plus
//	                                                    base_url: the API is a local emulator)
//	sudo ppsync check -c /etc/ppsync/config.toml      → as root, with no key in its environment
//	sudo systemctl enable --now ppsync                → no systemd here: the unit's ExecStart,
//	                                                    as its User=, with its EnvironmentFile=,
//	                                                    plus --once so it ends
//
// and ends with a PDF dropped into /srv/ppsync/inbox getting its .json.
// `systemd-analyze verify` then checks the installed unit with its man
// page. Everything the package and the test created is removed at the end.
func testInstallPerREADME(t *testing.T, deb string) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: installing the .deb needs root (CI runs as root)")
	}
	dpkg := need(t, "dpkg", "dpkg")
	runuser := need(t, "runuser", "util-linux")
	// Never touch a real installation: the test purges what it installs.
	for _, p := range []string{"/etc/ppsync", "/var/lib/ppsync", "/srv/ppsync", "/usr/bin/ppsync"} {
		if _, err := os.Lstat(p); err == nil {
			skipOrFail(t, fmt.Sprintf("%s exists: ppsync is installed on this machine, and this test would purge it", p))
		}
	}
	_, userErr := user.Lookup("ppsync")
	userExisted := userErr == nil
	t.Cleanup(func() {
		if out, err := dpkgRetry(dpkg, "-P", "ppsync"); err != nil {
			t.Errorf("dpkg -P ppsync: %v\n%s", err, out)
		}
		for _, p := range []string{"/etc/ppsync", "/var/lib/ppsync", "/srv/ppsync"} {
			if err := os.RemoveAll(p); err != nil {
				t.Errorf("clean up %s: %v", p, err)
			}
		}
		if !userExisted {
			// The package keeps its account on purge (files may still be owned by it).
			_ = exec.Command("userdel", "ppsync").Run()
			_ = exec.Command("groupdel", "ppsync").Run() // gone already where userdel removes the user's group
		}
	})

	// 1. sudo apt install ./dist/ppsync_<version>_<arch>.deb
	if out, err := dpkgRetry(dpkg, "-i", deb); err != nil {
		t.Fatalf("README step 'sudo apt install ./dist/...deb' (dpkg -i): %v\n%s", err, out)
	}
	svc, err := user.Lookup("ppsync")
	if err != nil {
		t.Fatalf("the package did not create the ppsync user: %v", err)
	}
	uid, _ := strconv.Atoi(svc.Uid)
	gid, _ := strconv.Atoi(svc.Gid)
	assertOwner(t, "/etc/ppsync/env", 0, 0, 0o600)
	assertOwner(t, "/etc/ppsync/config.toml", 0, gid, 0o640)
	assertOwner(t, "/srv/ppsync/inbox", uid, gid, 0o750)
	assertOwner(t, "/var/lib/ppsync", uid, gid, 0o700)

	// The API: the installed binary's emulator on a free loopback port.
	addr := freeAddr(t)
	emu := exec.Command("/usr/bin/ppsync", "emulator", "--listen", addr, "--processing-time", "10ms", "--api-key", "pp_test_install")
	emuLog, err := os.Create(filepath.Join(t.TempDir(), "emulator.log"))
	if err != nil {
		t.Fatal(err)
	}
	emu.Stdout, emu.Stderr = emuLog, emuLog
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = emu.Process.Kill()
		_ = emu.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(emuLog.Name())
			t.Logf("emulator log:\n%s", b)
		}
		emuLog.Close()
	})
	waitUp(t, "http://"+addr+"/v1/parsers")

	// 2. sudoedit /etc/ppsync/env — sudoedit writes into the existing file, keeping its mode.
	editInPlace(t, "/etc/ppsync/env", func(s string) string { return s + "PP_API_KEY=pp_test_install\n" })
	assertOwner(t, "/etc/ppsync/env", 0, 0, 0o600)

	// 3. sudoedit /etc/ppsync/config.toml — parser_id; the inbox stays /srv/ppsync/inbox.
	editInPlace(t, "/etc/ppsync/config.toml", func(s string) string {
		s = strings.Replace(s, `parser_id = "prs_replace_me"`, `parser_id = "prs_invoice"`, 1)
		return strings.Replace(s, "[api]\n", "[api]\nbase_url = \"http://"+addr+"\"\n", 1)
	})

	// 4. sudo ppsync check -c /etc/ppsync/config.toml — as root, nothing in the environment
	// but what sudo keeps: the key is found in /etc/ppsync/env, as the service finds it.
	check := exec.Command("/usr/bin/ppsync", "check", "-c", "/etc/ppsync/config.toml")
	check.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	check.Dir = "/"
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("README step 'sudo ppsync check -c /etc/ppsync/config.toml' failed: %v\n%s\n"+
			"(check must read the key from /etc/ppsync/env beside the config, as systemd's EnvironmentFile= does for the service)", err, out)
	}
	// Nothing check did as root may be unusable by the service user.
	assertServiceCanUse(t, "/var/lib/ppsync", uid)

	// 5. sudo systemctl enable --now ppsync — without systemd: what the unit says.
	unit := parseUnit(t, "/lib/systemd/system/ppsync.service")
	if unit.user != "ppsync" || len(unit.exec) == 0 || unit.exec[0] != "/usr/bin/ppsync" {
		t.Fatalf("unexpected unit: User=%q ExecStart=%q", unit.user, unit.exec)
	}
	pdf, err := samples.Generate(7, 1, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	drop := "/srv/ppsync/inbox/invoice-0001.pdf"
	if err := os.WriteFile(drop, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	for _, f := range unit.envFiles {
		env = append(env, readEnvFile(t, f)...)
	}
	args := append([]string{"-u", unit.user, "--"}, unit.exec...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, runuser, append(args, "--once")...)
	run.Env, run.Dir = env, "/"
	out, err := run.CombinedOutput()
	if err != nil {
		t.Errorf("the unit's ExecStart as %s (%s --once): %v\n%s", unit.user, strings.Join(unit.exec, " "), err, out)
	}
	result, err := os.ReadFile(drop + ".json")
	if err != nil {
		errFile, _ := os.ReadFile(drop + ".error.json")
		t.Fatalf("no result for %s: %v\nerror file: %s\nrun output:\n%s", drop, err, errFile, out)
	}
	var doc struct {
		Document map[string]any `json:"document"`
		Source   struct {
			Path string `json:"path"`
		} `json:"source"`
	}
	if err := json.Unmarshal(result, &doc); err != nil || doc.Document == nil || doc.Source.Path != drop {
		t.Errorf("result %s: %v\n%s", drop+".json", err, result)
	}
	assertServiceCanUse(t, "/var/lib/ppsync", uid)

	// The installed unit with its installed man page: systemd-analyze verify, man check on.
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		out, _ := exec.Command(sa, "verify", "/lib/systemd/system/ppsync.service").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "ppsync.service") || strings.Contains(line, "ppsync(1)") {
				t.Errorf("systemd-analyze verify (installed): %s", line)
			}
		}
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip("SKIPPED: " + why)
}

// dpkgRetry runs dpkg, waiting while another package manager holds its lock.
func dpkgRetry(dpkg string, args ...string) ([]byte, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c := exec.Command(dpkg, args...)
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := c.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(2 * time.Second)
	}
}

func assertOwner(t *testing.T, path string, uid, gid int, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode().Perm() != mode {
		t.Errorf("%s is %d:%d %04o, want %d:%d %04o", path, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
}

// assertServiceCanUse fails for anything under dir the service user does
// not own: a state file or folder created by root would be unreadable for
// it under the unit's 0700 state directory.
func assertServiceCanUse(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid {
			t.Errorf("%s is owned by uid %d with mode %04o: the service user (uid %d) cannot use it "+
				"(a command run as root created it; it must create state as the service user or open it read-only)",
				p, st.Uid, fi.Mode().Perm(), uid)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk %s: %v", dir, err)
	}
}

// editInPlace rewrites a file's contents the way sudoedit does: into the
// existing file, so its owner and mode stay.
func editInPlace(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(edit(string(b))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type unitFile struct {
	user     string
	exec     []string
	envFiles []string
}

// parseUnit reads what running the service needs from a unit file (only
// the simple forms the packaged unit uses: no quoting, no specifiers).
func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var u unitFile
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch k {
		case "User":
			u.user = v
		case "ExecStart":
			if strings.ContainsAny(v, `"'%$`) {
				t.Fatalf("ExecStart=%s uses quoting or specifiers this test does not expand", v)
			}
			u.exec = strings.Fields(v)
		case "EnvironmentFile":
			u.envFiles = append(u.envFiles, v)
		}
	}
	return u
}

// readEnvFile reads an EnvironmentFile= as systemd does for the simple
// KEY=VALUE lines the packaged file holds; a leading "-" means optional.
func readEnvFile(t *testing.T, spec string) []string {
	t.Helper()
	optional := strings.HasPrefix(spec, "-")
	b, err := os.ReadFile(strings.TrimPrefix(spec, "-"))
	if err != nil {
		if optional && os.IsNotExist(err) {
			return nil
		}
		t.Fatalf("EnvironmentFile=%s: %v", spec, err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env = append(env, strings.TrimSpace(k)+"="+strings.Trim(strings.TrimSpace(v), `"'`))
		}
	}
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 20 s", url)
}
