//go:build !windows

package winpath

// Sys returns path: only Windows alters names that end in a dot or a space.
func Sys(path string) string { return path }

// Extended returns path: only Windows has extended-length paths.
func Extended(path string) string { return path }

// Plain returns path: only Windows has extended-length paths.
func Plain(path string) string { return path }
