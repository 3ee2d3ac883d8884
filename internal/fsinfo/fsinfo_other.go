//go:build !linux && !darwin && !windows

package fsinfo

// Of returns an unknown local filesystem on platforms without a probe.
func Of(string) (Info, error) { return Info{Kind: "unknown"}, nil }

// IsMappedDrive is only meaningful on Windows.
func IsMappedDrive(string) bool { return false }
