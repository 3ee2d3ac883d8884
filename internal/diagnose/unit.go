package diagnose

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// UnitPaths are where the installed systemd unit is looked for, in order:
// `ppsync install` writes the first, the packages the others.
var UnitPaths = []string{"/etc/systemd/system/ppsync.service", "/usr/lib/systemd/system/ppsync.service", "/lib/systemd/system/ppsync.service"}

// Unit is what `check` needs of the service's systemd unit: who it runs
// as and where its sandbox lets it write.
type Unit struct {
	// Path is the unit file; DropIns are the drop-ins read after it.
	Path    string
	DropIns []string
	User    string
	Group   string
	// ProtectSystem is "", "yes"/"true", "full" or "strict"; ProtectHome
	// "", "yes"/"true", "read-only" or "tmpfs".
	ProtectSystem string
	ProtectHome   string
	PrivateTmp    bool
	// ReadWritePaths are the unit's writable paths, without their "-"/"+"
	// prefixes; StateDirs the folders of StateDirectory=, LogsDirectory=,
	// CacheDirectory= and RuntimeDirectory= (writable by the service user).
	ReadWritePaths []string
	StateDirs      []string
}

// FindUnit returns the first of paths that exists ("" when none does).
func FindUnit(paths []string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// ReadUnit reads the [Service] settings of the unit file at path and of its
// drop-ins (path.d/*.conf beside it, and under /etc/systemd/system for a unit
// installed elsewhere), in systemd's order: later assignments win, an empty
// ReadWritePaths= empties the list.
func ReadUnit(path string) (Unit, error) {
	u := Unit{Path: path}
	if err := u.read(path); err != nil {
		return u, err
	}
	name := filepath.Base(path)
	dirs := []string{path + ".d"}
	if etc := filepath.Join("/etc/systemd/system", name+".d"); !slices.Contains(dirs, etc) {
		dirs = append(dirs, etc)
	}
	var dropIns []string
	seen := map[string]bool{}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, "*.conf"))
		for _, m := range matches {
			if !seen[filepath.Base(m)] { // a drop-in in /etc hides one of the same name elsewhere
				seen[filepath.Base(m)] = true
				dropIns = append(dropIns, m)
			}
		}
	}
	slices.SortFunc(dropIns, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	for _, d := range dropIns {
		if err := u.read(d); err != nil {
			return u, err
		}
		u.DropIns = append(u.DropIns, d)
	}
	return u, nil
}

func (u *Unit) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read the systemd unit %s: %w", path, err)
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	pending := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "\\") { // a continued line
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			continue
		}
		if section != "Service" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "User":
			u.User = val
		case "Group":
			u.Group = val
		case "ProtectSystem":
			u.ProtectSystem = val
		case "ProtectHome":
			u.ProtectHome = val
		case "PrivateTmp":
			u.PrivateTmp = isTrue(val)
		case "ReadWritePaths":
			if val == "" {
				u.ReadWritePaths = nil
				continue
			}
			for _, p := range unitWords(val) {
				u.ReadWritePaths = append(u.ReadWritePaths, strings.TrimLeft(p, "-+"))
			}
		case "StateDirectory", "LogsDirectory", "CacheDirectory", "RuntimeDirectory":
			base := map[string]string{"StateDirectory": "/var/lib", "LogsDirectory": "/var/log", "CacheDirectory": "/var/cache", "RuntimeDirectory": "/run"}[key]
			for _, p := range unitWords(val) {
				p, _, _ = strings.Cut(p, ":")
				u.StateDirs = append(u.StateDirs, filepath.Join(base, p))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the systemd unit %s: %w", path, err)
	}
	return nil
}

// unitWords splits a space-separated list whose words may be quoted.
func unitWords(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' || s[0] == '\'' {
			if end := strings.IndexByte(s[1:], s[0]); end >= 0 {
				out = append(out, s[1:1+end])
				s = s[end+2:]
				continue
			}
		}
		w, rest, _ := strings.Cut(s, " ")
		out = append(out, w)
		s = rest
	}
	return out
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	dir = filepath.Clean(dir)
	p = filepath.Clean(p)
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// errReadOnly says why the unit's sandbox keeps a path from being written.
var errReadOnly = errors.New("read-only for the service")

// Writable tells whether the unit's sandbox lets the service write below
// p (nil), or why not.
func (u Unit) Writable(p string) error {
	paths := []string{filepath.Clean(p)}
	if r, err := evalExisting(p); err == nil && r != paths[0] {
		paths = append(paths, r) // the sandbox applies to the real path
	}
	for _, q := range paths {
		if slices.ContainsFunc(u.ReadWritePaths, func(rw string) bool { return under(q, rw) }) ||
			slices.ContainsFunc(u.StateDirs, func(d string) bool { return under(q, d) }) {
			return nil
		}
	}
	q := paths[len(paths)-1]
	if u.PrivateTmp && (under(q, "/tmp") || under(q, "/var/tmp")) {
		return fmt.Errorf("%w: PrivateTmp=true gives the service a /tmp and /var/tmp of its own, where %s is not", errReadOnly, p)
	}
	switch strings.ToLower(u.ProtectHome) {
	case "yes", "true", "1", "on", "read-only", "tmpfs":
		for _, h := range []string{"/home", "/root", "/run/user"} {
			if under(q, h) {
				return fmt.Errorf("%w: ProtectHome=%s covers %s", errReadOnly, u.ProtectHome, h)
			}
		}
	}
	switch strings.ToLower(u.ProtectSystem) {
	case "strict":
		for _, sys := range []string{"/dev", "/proc", "/sys"} {
			if under(q, sys) {
				return nil
			}
		}
		return fmt.Errorf("%w: ProtectSystem=strict makes every path read-only but ReadWritePaths= (%s) and the unit's own directories",
			errReadOnly, strings.Join(u.ReadWritePaths, " "))
	case "full", "yes", "true", "1", "on":
		ro := []string{"/usr", "/boot", "/efi"}
		if strings.ToLower(u.ProtectSystem) == "full" {
			ro = append(ro, "/etc")
		}
		for _, d := range ro {
			if under(q, d) {
				return fmt.Errorf("%w: ProtectSystem=%s makes %s read-only", errReadOnly, u.ProtectSystem, d)
			}
		}
	}
	return nil
}

// evalExisting resolves the symlinks of the longest existing part of p.
func evalExisting(p string) (string, error) {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", os.ErrNotExist
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
