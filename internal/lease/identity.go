package lease

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// InstanceSuffix is added to the state file's path to name the file that
// keeps the instance id: one per state file, in the state's folder.
const InstanceSuffix = ".instance-id"

// Identity says who holds a lease: the instance (one per state file,
// created once and kept beside it) and the machine. A hostname is shown to
// people but never trusted: two machines may carry the same one.
type Identity struct {
	Instance string
	Machine  string
	Host     string
}

// LoadIdentity reads the instance id kept beside the state file (creating
// it, mode 0600, on the first run) and the machine id.
func LoadIdentity(statePath string) (Identity, error) {
	inst, err := instanceID(statePath + InstanceSuffix)
	if err != nil {
		return Identity{}, err
	}
	host, _ := os.Hostname()
	return Identity{Instance: inst, Machine: machineID(), Host: host}, nil
}

func instanceID(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); validID(id) {
			return id, nil
		}
		return "", fmt.Errorf("instance id file %s is damaged (want 32 hex digits): delete it and ppsync writes a new one "+
			"(its inbox leases are then taken back after the lease period)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the instance id file %s: %w: grant the ppsync user access to the state folder", path, err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("create the instance id: %w", err)
	}
	id := hex.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return instanceID(path) // written meanwhile by a process starting with us
	}
	if err != nil {
		return "", fmt.Errorf("create the instance id file %s: %w: the state folder must be writable by the ppsync user", path, err)
	}
	_, werr := f.WriteString(id + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("write the instance id file %s: %w: free space in the state folder", path, err)
	}
	return id, nil
}

func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// machineID returns the machine's own id, "" when it has none that can be
// read: leases then rest on the instance id alone.
func machineID() string {
	for _, p := range machineIDFiles() {
		if b, err := os.ReadFile(p); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id
			}
		}
	}
	return platformMachineID()
}
