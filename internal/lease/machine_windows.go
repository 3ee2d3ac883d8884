//go:build windows

package lease

import "golang.org/x/sys/windows/registry"

func machineIDFiles() []string { return nil }

// platformMachineID reads the MachineGuid Windows writes at installation.
func platformMachineID() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	s, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return ""
	}
	return s
}
