package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a TOML string such as "30s" or "5m". A bare number is refused:
// TOML libraries read it as nanoseconds, which is never what a user meant.
type Duration struct {
	time.Duration
	set bool
}

// D makes a set Duration (for building configs in code).
func D(d time.Duration) Duration { return Duration{Duration: d, set: true} }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("write durations as quoted strings with a unit, such as \"30s\" or \"5m\" (got %v)", v)
	}
	x, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		x, err = parseDays(strings.TrimSpace(s))
	}
	if err != nil {
		return fmt.Errorf("%q is not a duration: use a number with a unit, such as \"500ms\", \"30s\", \"5m\" or \"180d\"", s)
	}
	d.Duration, d.set = x, true
	return nil
}

// String prints the duration.
func (d Duration) String() string { return d.Duration.String() }

// Size is a byte count written as "100MiB", "512KB" or a bare number of bytes.
type Size struct {
	Bytes int64
	set   bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		s.Bytes, s.set = x, true
		return nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return err
		}
		s.Bytes, s.set = n, true
		return nil
	}
	return fmt.Errorf("write sizes as \"100MiB\", \"512KB\" or a number of bytes (got %v)", v)
}

// ParseSize reads "100MiB", "1.5GB", "4096".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToLower(t), strings.ToLower(u.suffix)) {
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size: use a number with a unit, such as \"100MiB\"", s)
	}
	return int64(f * mult), nil
}

// parseDays reads a whole number of days, such as "180d".
func parseDays(s string) (time.Duration, error) {
	n, ok := strings.CutSuffix(s, "d")
	if !ok {
		return 0, fmt.Errorf("%q has no day unit", s)
	}
	d, err := strconv.Atoi(n)
	if err != nil || d < 0 || d > 100*365 {
		return 0, fmt.Errorf("%q is not a whole number of days", s)
	}
	return time.Duration(d) * 24 * time.Hour, nil
}
