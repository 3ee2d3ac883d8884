//go:build linux

package packaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
)

// Environment of the install run in its own mount namespace: the .deb to
// install, and the folder for the overlays' upper layers.
const (
	nsDebEnv = "PPSYNC_TEST_INSTALL_DEB"
	nsDirEnv = "PPSYNC_TEST_INSTALL_OVERLAY"
	// nsHostEnv is the parent's mount namespace: the child must be in another.
	nsHostEnv = "PPSYNC_TEST_INSTALL_HOST_NS"
)

// testInstallPerREADME installs the .deb the way the README says, in a
// mount namespace of its own: the test binary runs itself again under
// `unshare --mount`, mounts overlays over /etc, /usr, /var and /srv with
// their upper layers in a temporary folder, and installs there. dpkg's
// database, the ppsync account, the unit and the inbox land in the
// overlays and vanish with the namespace: the host is not changed, a host
// with ppsync installed is fine, and two runs at once do not meet. What the
// host has of ppsync is compared before and after.
func testInstallPerREADME(t *testing.T, deb string) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: installing the .deb needs root, for its mount namespace (CI runs as root)")
	}
	unshare := need(t, "unshare", "util-linux")
	need(t, "dpkg", "dpkg")
	need(t, "runuser", "util-linux")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatalf("cannot tell this process's mount namespace: %v", err)
	}
	before := hostFacts(t)
	ctx := testContext(t)
	args := []string{"--mount", "--propagation", "private", "--fork", "--", exe,
		"-test.run", "^TestInstallInOwnMountNamespace$", "-test.v", "-test.count=1"}
	if d, ok := ctx.Deadline(); ok {
		args = append(args, "-test.timeout", time.Until(d).Round(time.Second).String())
	}
	c := command(ctx, unshare, args...)
	c.Env = append(os.Environ(), nsDebEnv+"="+deb, nsDirEnv+"="+t.TempDir(), nsHostEnv+"="+hostNS)
	out, err := c.CombinedOutput()
	t.Logf("unshare --mount -- %s -test.run ^TestInstallInOwnMountNamespace$:\n%s", filepath.Base(exe), out)
	if err != nil {
		t.Errorf("the install in its own mount namespace failed: %v%s", err, deadlineHint(ctx, err))
	} else if !strings.Contains(string(out), "--- PASS: TestInstallInOwnMountNamespace") {
		t.Error("the install in its own mount namespace did not run")
	}
	after := hostFacts(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("the host changed: %s was %q, is %q", k, v, after[k])
		}
	}
}

// hostFacts describes what the host has of ppsync: its account, its dpkg
// record and its files.
func hostFacts(t *testing.T) map[string]string {
	t.Helper()
	facts := map[string]string{}
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/shadow"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		facts[f+" ppsync"] = "(none)"
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "ppsync:") {
				facts[f+" ppsync"] = line
			}
		}
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	facts["dpkg status ppsync"] = "(none)"
	for _, stanza := range strings.Split(string(status), "\n\n") {
		if strings.HasPrefix(stanza, "Package: ppsync\n") {
			facts["dpkg status ppsync"] = stanza
		}
	}
	for _, p := range []string{"/usr/bin/ppsync", "/etc/ppsync", "/var/lib/ppsync", "/srv/ppsync",
		"/lib/systemd/system/ppsync.service", "/lib/systemd/system/ppsync@.service", "/usr/share/doc/ppsync",
		"/usr/share/licenses/ppsync", "/usr/share/man/man1/ppsync.1.gz"} {
		fi, err := os.Lstat(p)
		if err != nil {
			facts[p] = "absent"
			continue
		}
		facts[p] = fmt.Sprintf("%v %d %v", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
	}
	return facts
}

// TestInstallInOwnMountNamespace is the install run by
// TestPackagesAndInstall/InstallPerREADME inside a mount namespace of its
// own; run directly, it has nothing to install.
func TestInstallInOwnMountNamespace(t *testing.T) {
	deb := os.Getenv(nsDebEnv)
	if deb == "" {
		t.Skip("SKIPPED: run by TestPackagesAndInstall/InstallPerREADME inside a mount namespace of its own")
	}
	self, err := os.Readlink("/proc/self/ns/mnt")
	host := os.Getenv(nsHostEnv)
	if err != nil || host == "" || self == host {
		t.Fatalf("not in a mount namespace of its own (mine %s, the test's %q; %v): refusing to install on the host", self, host, err)
	}
	mountOverlays(t, os.Getenv(nsDirEnv))
	forgetInstalled(t)
	installPerREADME(t, deb)
}

// mountOverlays puts an overlay over each folder the package and its
// scripts write to, with the upper layers under dir.
func mountOverlays(t *testing.T, dir string) {
	t.Helper()
	if !filepath.IsAbs(dir) {
		t.Fatalf("%s=%q is not an absolute path", nsDirEnv, dir)
	}
	for _, target := range []string{"/etc", "/usr", "/var", "/srv"} {
		if dir == target || strings.HasPrefix(dir, target+"/") {
			t.Fatalf("the overlays' folder %s is under %s: set TMPDIR to a folder outside /etc, /usr, /var and /srv", dir, target)
		}
		if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
			t.Fatalf("%s is not a folder here (%v): the overlay needs it", target, err)
		}
		upper := filepath.Join(dir, strings.Trim(target, "/"), "upper")
		work := filepath.Join(dir, strings.Trim(target, "/"), "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		opts := "lowerdir=" + target + ",upperdir=" + upper + ",workdir=" + work
		if err := syscall.Mount("overlay", target, "overlay", 0, opts); err != nil {
			t.Fatalf("mount -t overlay -o %s overlay %s: %v", opts, target, err)
		}
	}
}

// forgetInstalled removes, inside the namespace only, a ppsync the host
// has installed, so the install below is a first install.
func forgetInstalled(t *testing.T) {
	t.Helper()
	if exec.Command("dpkg", "-s", "ppsync").Run() == nil {
		t.Log("ppsync is installed on the host: purged inside this namespace only")
		if out, err := dpkgRetry("dpkg", "-P", "ppsync"); err != nil {
			t.Fatalf("dpkg -P ppsync (in the namespace): %v\n%s", err, out)
		}
	}
	for _, p := range []string{"/etc/ppsync", "/var/lib/ppsync", "/srv/ppsync"} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := user.Lookup("ppsync"); err == nil {
		_ = exec.Command("userdel", "ppsync").Run()
	}
	if _, err := user.LookupGroup("ppsync"); err == nil {
		_ = exec.Command("groupdel", "ppsync").Run()
	}
}

// installPerREADME follows the README's "Install" section (docs/install.md, "In short: the
// Linux package") literally, in the package's own layout:
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
// page. Then a second config with its own key under the template unit
// (docs/operations.md, "Several configs on one host"), the exit code the
// unit's RestartPreventExitStatus= names, and what a purge removes and keeps.
func installPerREADME(t *testing.T, deb string) {
	dpkg := need(t, "dpkg", "dpkg")
	runuser := need(t, "runuser", "util-linux")

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
	emu := exec.Command("/usr/bin/ppsync", "emulator", "--listen", addr, "--processing-time", "10ms",
		"--api-key", "pp_test_install", "--api-key", "pp_test_acme")
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
	// The go test deadline bounds these runs; a hung one is stopped by it.
	ctx := testContext(t)
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

	// The installed units with the installed man page: systemd-analyze verify, man check on.
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		for _, u := range []string{"/lib/systemd/system/ppsync.service", "/lib/systemd/system/ppsync@acme.service"} {
			out, _ := exec.Command(sa, "verify", u).CombinedOutput()
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "ppsync.service") || strings.Contains(line, "ppsync@") || strings.Contains(line, "ppsync(1)") {
					t.Errorf("systemd-analyze verify %s (installed): %s", u, line)
				}
			}
		}
	}

	// A second config with a key of its own, as docs/operations.md says:
	// /etc/ppsync/acme.toml and acme.env, run by ppsync@acme.service.
	if err := os.WriteFile("/etc/ppsync/acme.env", []byte("PP_API_KEY=pp_test_acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	acmeInbox := "/srv/ppsync/acme/inbox"
	if out, err := exec.Command("install", "-d", "-o", "ppsync", "-g", "ppsync", "-m", "0750", "/srv/ppsync/acme", acmeInbox).CombinedOutput(); err != nil {
		t.Fatalf("install -d %s: %v %s", acmeInbox, err, out)
	}
	acmeCfg := fmt.Sprintf(`[api]
base_url = "http://%s"
api_key_env = "PP_API_KEY"
env_file = "/etc/ppsync/acme.env"
[state]
path = "/var/lib/ppsync/acme/state.db"
[[inbox]]
path = %q
parser_id = "prs_invoice"
`, addr, acmeInbox)
	if err := os.WriteFile("/etc/ppsync/acme.toml", []byte(acmeCfg), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown("/etc/ppsync/acme.toml", 0, gid); err != nil {
		t.Fatal(err)
	}
	check = exec.Command("/usr/bin/ppsync", "check", "-c", "/etc/ppsync/acme.toml")
	check.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sudo ppsync check -c /etc/ppsync/acme.toml: %v\n%s", err, out)
	}
	inst := parseUnit(t, "/lib/systemd/system/ppsync@.service", "acme")
	// StateDirectory=ppsync/%i: what systemd creates before starting it.
	if out, err := exec.Command("install", "-d", "-o", "ppsync", "-g", "ppsync", "-m", "0700", "/var/lib/ppsync/acme").CombinedOutput(); err != nil {
		t.Fatalf("install -d /var/lib/ppsync/acme: %v %s", err, out)
	}
	acmeDrop := filepath.Join(acmeInbox, "invoice-0002.pdf")
	pdf2, err := samples.Generate(7, 2, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(acmeDrop, pdf2, 0o644); err != nil {
		t.Fatal(err)
	}
	envAcme := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	for _, f := range inst.envFiles {
		envAcme = append(envAcme, readEnvFile(t, f)...)
	}
	if !slices.Contains(envAcme, "PP_API_KEY=pp_test_acme") {
		t.Errorf("ppsync@acme's EnvironmentFile= %v does not give it acme's key", inst.envFiles)
	}
	run = exec.CommandContext(ctx, runuser, append(append([]string{"-u", inst.user, "--"}, inst.exec...), "--once")...)
	run.Env, run.Dir = envAcme, "/"
	if out, err := run.CombinedOutput(); err != nil {
		t.Errorf("ppsync@acme's ExecStart as %s (%s --once): %v\n%s", inst.user, strings.Join(inst.exec, " "), err, out)
	}
	if _, err := os.Stat(acmeDrop + ".json"); err != nil {
		t.Errorf("ppsync@acme wrote no result for %s: %v", acmeDrop, err)
	}
	assertServiceCanUse(t, "/var/lib/ppsync/acme", uid)

	// RestartPreventExitStatus=2: what exits 2 is what a restart cannot
	// mend. A config that does not load, and a key the API refuses.
	if err := os.WriteFile("/etc/ppsync/broken.toml", []byte("[[inbox]]\npath = \"/srv/ppsync/inbox\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/ppsync/refused.env", []byte("PP_API_KEY=pp_test_refused\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/ppsync/refused.toml", []byte(strings.ReplaceAll(acmeCfg, "acme", "refused")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("install", "-d", "-o", "ppsync", "-g", "ppsync", "-m", "0750", "/srv/ppsync/refused", "/srv/ppsync/refused/inbox").CombinedOutput(); err != nil {
		t.Fatalf("install -d: %v %s", err, out)
	}
	for _, name := range []string{"broken", "refused"} {
		u := parseUnit(t, "/lib/systemd/system/ppsync@.service", name)
		envName := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
		for _, f := range u.envFiles {
			envName = append(envName, readEnvFile(t, f)...)
		}
		_ = os.MkdirAll("/var/lib/ppsync/"+name, 0o700)
		_ = os.Chown("/var/lib/ppsync/"+name, uid, gid)
		// It should end at once; two minutes only keep a hang from eating the test's budget.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		c := exec.CommandContext(rctx, runuser, append([]string{"-u", u.user, "--"}, u.exec...)...)
		c.Env, c.Dir = envName, "/"
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("ppsync@%s (%s): %v, want exit code 2 (a permanent error: the unit does not restart it)\n%s", name, strings.Join(u.exec, " "), err, out)
		}
	}

	// Purge removes the package's files and its config files; what the
	// admin added to /etc/ppsync (a second config and its key), the state,
	// the inbox with its results and the account stay.
	for _, f := range []string{"/etc/ppsync/broken.toml", "/etc/ppsync/refused.toml", "/etc/ppsync/refused.env"} {
		_ = os.Remove(f)
	}
	if out, err := dpkgRetry(dpkg, "-P", "ppsync"); err != nil {
		t.Fatalf("dpkg -P ppsync: %v\n%s", err, out)
	}
	for _, gone := range []string{"/usr/bin/ppsync", "/lib/systemd/system/ppsync.service", "/lib/systemd/system/ppsync@.service",
		"/etc/ppsync/config.toml", "/etc/ppsync/env", "/usr/share/man/man1/ppsync.1.gz"} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("after purge %s is still there (%v)", gone, err)
		}
	}
	for _, kept := range []string{"/etc/ppsync/acme.env", "/etc/ppsync/acme.toml", "/var/lib/ppsync/state.db",
		"/var/lib/ppsync/acme/state.db", drop + ".json", acmeDrop + ".json"} {
		if _, err := os.Lstat(kept); err != nil {
			t.Errorf("after purge %s is gone, but docs/operations.md says purge keeps it: %v", kept, err)
		}
	}
	if _, err := user.Lookup("ppsync"); err != nil {
		t.Errorf("after purge the ppsync account is gone, but docs/operations.md says it stays: %v", err)
	}
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
// the simple forms the packaged units use: no quoting, and of the
// specifiers only %i, the instance name, for a template).
func parseUnit(t *testing.T, path string, instance ...string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if len(instance) > 0 {
		text = strings.ReplaceAll(text, "%i", instance[0])
	}
	var u unitFile
	for _, line := range strings.Split(text, "\n") {
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
	// Generous: a process start on a busy machine.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 2 minutes", url)
}
