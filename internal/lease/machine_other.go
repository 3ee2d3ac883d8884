//go:build !windows

package lease

// machineIDFiles are read in turn: systemd's and D-Bus's machine id, then
// the BSDs' host id.
func machineIDFiles() []string {
	return []string{"/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid"}
}

func platformMachineID() string { return "" }
