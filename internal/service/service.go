// Package service describes ppsync as an operating-system service: the
// hardened systemd unit (the same text the packages ship and `ppsync
// install` writes), and the kardianos/service configuration per platform.
// Everything here is pure data, so it is tested on every platform.
package service

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	ks "github.com/kardianos/service"
)

// Names shown by the service managers.
const (
	Name        = "ppsync"
	DisplayName = "ppsync (PerfectParser folder sync)"
	Description = "Sends every PDF dropped into the configured folders to PerfectParser and writes the extracted data beside it."
)

// Unit is what goes into the systemd unit.
type Unit struct {
	Exe        string   // absolute path of the binary
	ConfigPath string   // absolute path of the config file
	User       string   // account the service runs as
	RWPaths    []string // inboxes, processed/failed folders, a state folder outside /var/lib/ppsync
	// Instance is --name: "" for the default service ppsync, else the
	// service is ppsync@NAME (Linux) or ppsync-NAME, with its own key file
	// and state folder (see ServiceName).
	Instance string
}

// Systemd renders the hardened unit.
func (u Unit) Systemd() string {
	rw := slices.Clone(u.RWPaths)
	slices.Sort(rw)
	rw = slices.Compact(rw)
	var b strings.Builder
	fmt.Fprintf(&b, `[Unit]
Description=%s
Documentation=man:ppsync(1) https://github.com/ppsync/ppsync
Wants=network-online.target
After=network-online.target remote-fs.target

[Service]
Type=simple
User=%s
Group=%s
ExecStart=%s run -c %s
# SIGHUP: ppsync reads its config again (a bad one is logged and ignored).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10s
# Exit code 2 is an error a restart cannot mend (bad config, refused key,
# damaged state, an inbox held by another ppsync): stay stopped and say so.
RestartPreventExitStatus=2
TimeoutStopSec=30s
# PP_API_KEY=... %s (mode 0600, owned by root).
EnvironmentFile=-%s
StateDirectory=%s
StateDirectoryMode=0700
ConfigurationDirectory=ppsync
LogsDirectory=ppsync
UMask=0022
LimitNOFILE=65536

# Hardening: read-only system, writable only where results go.
ProtectSystem=strict
`, InstanceDisplayName(u.Instance), u.User, u.User, systemdQuote(u.Exe), systemdQuote(u.ConfigPath), keyFor(u.Instance), envFile(u.Instance), stateDirectory(u.Instance))
	for _, p := range rw {
		fmt.Fprintf(&b, "ReadWritePaths=-%s\n", systemdQuote(p))
	}
	b.WriteString(`ProtectHome=read-only
PrivateTmp=true
PrivateDevices=true
NoNewPrivileges=true
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
MemoryDenyWriteExecute=true
RemoveIPC=true
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources

[Install]
WantedBy=multi-user.target
`)
	return b.String()
}

// systemdQuote quotes a path with spaces for ExecStart and *Paths=.
func systemdQuote(p string) string {
	if strings.ContainsAny(p, " \t\"'\\") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
	}
	return p
}

// Config builds the kardianos/service configuration for goos.
func Config(goos string, u Unit) *ks.Config {
	c := &ks.Config{
		Name:        ServiceName(goos, u.Instance),
		DisplayName: InstanceDisplayName(u.Instance),
		Description: Description,
		Executable:  u.Exe,
		Arguments:   []string{"run", "-c", u.ConfigPath},
		Option:      ks.KeyValue{},
	}
	switch goos {
	case "windows":
		// Never rely on the working directory (it is System32 for services).
		c.WorkingDirectory = filepath.Dir(u.ConfigPath)
		c.Option["DelayedAutoStart"] = true
		c.Option["StartType"] = "automatic"
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "10s"
		c.Option["OnFailureResetPeriod"] = 86400
		if u.User != "" {
			c.UserName = u.User
		}
	case "darwin":
		c.Option["KeepAlive"] = true
		c.Option["RunAtLoad"] = true
		c.Option["LogOutput"] = true
		c.Option["LogDirectory"] = "/usr/local/var/log/ppsync"
		c.WorkingDirectory = filepath.Dir(u.ConfigPath)
	default:
		// systemd: the same hardened unit the packages ship. kardianos runs
		// the text through text/template, which leaves it unchanged.
		c.Option["SystemdScript"] = u.Systemd()
	}
	return c
}
