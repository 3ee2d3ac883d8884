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

// KeySource says where the API key is read from, for errors that must
// name it without showing it.
type KeySource struct {
	// Kind is "config" (api_key in the file), "key_file" (api_key_file),
	// "env" (the environment variable) or "env_file" (its line in
	// [api] env_file).
	Kind string
	// Name is the environment variable, or the key file's path.
	Name string
	// Path is the env file (env_file only).
	Path string
	// Setting is where the config says so: "FILE:LINE" of api_key,
	// api_key_file or api_key_env, or "" when that is the default.
	Setting string
}

// APIKeySource finds where the key is read from, in the order
// ResolveAPIKey reads it. getenv is os.Getenv in production.
func (c *Config) APIKeySource(getenv func(string) string) KeySource {
	at := func(key string) string {
		if n, ok := c.Line(key); ok {
			return fmt.Sprintf("%s:%d", c.File, n)
		}
		return ""
	}
	switch {
	case c.API.APIKey != "":
		return KeySource{Kind: "config", Setting: at("api.api_key")}
	case c.API.APIKeyFile != "":
		return KeySource{Kind: "key_file", Name: c.API.APIKeyFile, Setting: at("api.api_key_file")}
	}
	name := c.API.APIKeyEnv
	if name == "" {
		name = DefaultAPIKeyEnv
	}
	s := KeySource{Kind: "env", Name: name, Setting: at("api.api_key_env")}
	if strings.TrimSpace(getenv(name)) == "" && c.API.EnvFile != "" {
		s.Kind, s.Path = "env_file", c.API.EnvFile
	}
	return s
}

// String names the source: "api_key at /etc/ppsync/config.toml:4",
// "environment variable PP_API_KEY", ...
func (s KeySource) String() string {
	switch s.Kind {
	case "config":
		return "api_key at " + s.Setting
	case "key_file":
		if s.Setting != "" {
			return fmt.Sprintf("api_key_file = %s (%s)", s.Name, s.Setting)
		}
		return "api_key_file = " + s.Name
	case "env_file":
		return fmt.Sprintf("the line %s= of %s (api.env_file; the variable is not set in the environment)", s.Name, s.Path)
	}
	if s.Setting != "" {
		return fmt.Sprintf("environment variable %s (named by api_key_env at %s)", s.Name, s.Setting)
	}
	return "environment variable " + s.Name
}

// Fix says what to do when the API refuses the key from s.
func (s KeySource) Fix() string {
	const get = "a valid key from the PerfectParser dashboard (Integrations → API Keys)"
	switch s.Kind {
	case "config":
		return "replace api_key at " + s.Setting + " with " + get + ", or better move the key to api_key_file (mode 0600)"
	case "key_file":
		return "put " + get + " in " + s.Name + " (mode 0600)"
	case "env_file":
		return fmt.Sprintf("replace the line %s=... in %s with %s, then restart ppsync", s.Name, s.Path, get)
	}
	return fmt.Sprintf("set %s to %s where it is exported (the service's environment or env file, or your shell), then restart ppsync", s.Name, get)
}
