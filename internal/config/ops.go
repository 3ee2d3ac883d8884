package config

// This file holds the operator-facing settings: the globs of include and
// exclude, the admin endpoint's address and accepted host names, and the
// environment file the API key can be read from.

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Admin ports derived from the state path lie in [AdminPortBase, AdminPortBase+AdminPortRange).
const (
	AdminPortBase  = 20000
	AdminPortRange = 10000
)

// AdminListenFor is the admin endpoint's default address for a state file:
// 127.0.0.1 and a port derived from the state path. Two configs with
// different state files get different addresses, and every command run
// with a config finds its own daemon. (The range lies below the ephemeral
// ports of Linux and Windows.)
func AdminListenFor(statePath string) string {
	p := filepath.Clean(statePath)
	if runtime.GOOS == "windows" {
		p = strings.ToLower(p)
	}
	h := fnv.New32a()
	h.Write([]byte(p))
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(AdminPortBase+int(h.Sum32()%AdminPortRange)))
}

// globs checks include or exclude patterns.
func (v *validator) globs(key string, patterns []string) {
	for _, p := range patterns {
		switch {
		case strings.TrimSpace(p) == "":
			v.fail(key, "an empty pattern matches nothing: remove it")
		case strings.Contains(p, `\`):
			v.fail(key, "%q: separate folders with / (on Windows too), e.g. %q", p, strings.ReplaceAll(p, `\`, "/"))
		case strings.HasPrefix(p, "/"):
			v.fail(key, "%q: patterns are relative to the inbox: drop the leading /", p)
		case strings.HasPrefix(p, "^") || strings.HasSuffix(p, "$") || strings.Contains(p, "\\."):
			v.fail(key, "%q looks like a regular expression: these are globs (* within a name, ** for any folders, ?), e.g. \"tmp/**\"", p)
		case !doublestar.ValidatePattern(p):
			v.fail(key, "%q is not a valid glob (use * within a name, ** for any folders, ? and [abc]; these are globs, not regular expressions)", p)
		}
	}
}

// adminHosts checks [admin] hosts: bare host names or addresses.
func (v *validator) adminHosts() {
	for _, h := range v.c.Admin.Hosts {
		if h == "" || strings.ContainsAny(h, "/ :") && net.ParseIP(strings.Trim(h, "[]")) == nil {
			v.fail("admin.hosts", "%q is not a host name: list names such as \"ppsync.internal\" (without scheme or port)", h)
		}
	}
}

// envFile resolves [api] env_file: an explicit file must exist; by
// default the file "env" beside the config is used when it exists.
func (v *validator) envFile() {
	a := &v.c.API
	if a.EnvFile == "" {
		if p := filepath.Join(v.dir, "env"); fileExists(p) {
			a.EnvFile = p
		}
		return
	}
	a.EnvFile = v.abs(a.EnvFile)
	if st, err := os.Stat(a.EnvFile); err != nil {
		v.fail("api.env_file", "cannot read %s: %v (create it with KEY=VALUE lines, mode 0600)", a.EnvFile, errors.Unwrap(err))
	} else if st.IsDir() {
		v.fail("api.env_file", "%s is a folder: name a file of KEY=VALUE lines", a.EnvFile)
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// envFromFile reads the variable name from a KEY=VALUE file in the format
// of systemd's EnvironmentFile= (comments with #, optional "export ",
// optional quotes). found is false when the file does not set it.
func envFromFile(path, name string) (value string, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != name {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		value, found = val, true
	}
	if err := sc.Err(); err != nil {
		return "", false, err
	}
	return value, found, nil
}

// secretFileWarning reports a secret file readable by others (unix only).
func secretFileWarning(key, path string) string {
	if path == "" || runtime.GOOS == "windows" {
		return ""
	}
	st, err := os.Stat(path)
	if err == nil && st.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s %s is readable by other users (mode %o): run chmod 600 %s", key, path, st.Mode().Perm(), path)
	}
	return ""
}
