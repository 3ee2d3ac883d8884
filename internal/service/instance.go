package service

import (
	"fmt"
	"regexp"
)

// Instances: `ppsync install --name NAME` installs one more ppsync beside
// the default one, for another config (another API key, another client).
// Every name below is derived from NAME the same way by install, start,
// stop, restart, uninstall, status and the Windows service itself.

var instanceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// CheckInstance validates --name: "" (the default service) or 1 to 32
// lower-case letters, digits, - and _, starting with a letter or digit. It
// becomes part of a service name, a file name and a folder name on every
// platform, so nothing else is allowed.
func CheckInstance(name string) error {
	if name == "" || instanceName.MatchString(name) {
		return nil
	}
	return fmt.Errorf("--name %q: use 1 to 32 lower-case letters, digits, - and _ (starting with a letter or digit), e.g. --name acme", name)
}

// ServiceName is the service manager's name of instance on goos: ppsync
// for the default; ppsync@NAME on Linux (an instance of the template unit
// ppsync@.service the packages ship); ppsync-NAME as the Windows service
// and the launchd label.
func ServiceName(goos, instance string) string {
	switch {
	case instance == "":
		return Name
	case goos == "linux":
		return Name + "@" + instance
	}
	return Name + "-" + instance
}

// InstanceDisplayName is the name the service managers show.
func InstanceDisplayName(instance string) string {
	if instance == "" {
		return DisplayName
	}
	return DisplayName + ", instance " + instance
}

// envFile is the unit's EnvironmentFile=, stateDirectory its
// StateDirectory= and keyFor the comment above them: those of the template
// unit ppsync@.service for an instance.
func envFile(instance string) string {
	if instance == "" {
		return "/etc/ppsync/env"
	}
	return "/etc/ppsync/" + instance + ".env"
}

func stateDirectory(instance string) string {
	if instance == "" {
		return Name
	}
	return Name + "/" + instance
}

func keyFor(instance string) string {
	if instance == "" {
		return "for the default api_key_env"
	}
	return "of this instance"
}
