// Package config reads the config file.
package config
