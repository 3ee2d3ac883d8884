package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ResolveAPIKey returns the API key from the configured source. getenv is
// os.Getenv in production.
func (c *Config) ResolveAPIKey(getenv func(string) string) (string, error) {
	switch {
	case c.API.APIKey != "":
		return strings.TrimSpace(c.API.APIKey), nil
	case c.API.APIKeyFile != "":
		b, err := os.ReadFile(c.API.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("%s: api.api_key_file: cannot read %s: %v", c.File, c.API.APIKeyFile, errors.Unwrap(err))
		}
		k := strings.TrimSpace(string(b))
		if k == "" {
			return "", fmt.Errorf("%s: api.api_key_file: %s is empty: put the API key from the PerfectParser dashboard in it", c.File, c.API.APIKeyFile)
		}
		return k, nil
	default:
		name := c.API.APIKeyEnv
		if name == "" {
			name = DefaultAPIKeyEnv
		}
		k := strings.TrimSpace(getenv(name))
		if k != "" {
			return k, nil
		}
		if c.API.EnvFile == "" {
			return "", fmt.Errorf("%s: api.api_key_env: environment variable %s is not set: export it, put %s=... in a file \"env\" beside the config (mode 0600), or set api_key_file in [api]", c.File, name, name)
		}
		v, found, err := envFromFile(c.API.EnvFile, name)
		switch {
		case errors.Is(err, os.ErrPermission):
			return "", fmt.Errorf("%s: api.env_file: %s is not set in the environment and %s cannot be read by this user: run the command as root (with sudo), as the service reads it through systemd", c.File, name, c.API.EnvFile)
		case err != nil:
			return "", fmt.Errorf("%s: api.env_file: reading %s: %w", c.File, c.API.EnvFile, err)
		case !found || strings.TrimSpace(v) == "":
			return "", fmt.Errorf("%s: api.api_key_env: %s is set neither in the environment nor in %s: add the line %s=<key from the PerfectParser dashboard> to that file", c.File, name, c.API.EnvFile, name)
		}
		return strings.TrimSpace(v), nil
	}
}

// KeyFileWarning reports an api_key_file or env_file readable by others
// (unix only).
func (c *Config) KeyFileWarning() string {
	if w := secretFileWarning("api_key_file", c.API.APIKeyFile); w != "" {
		return w
	}
	if c.API.APIKeyFile == "" && c.API.APIKey == "" {
		return secretFileWarning("env_file", c.API.EnvFile)
	}
	return ""
}
