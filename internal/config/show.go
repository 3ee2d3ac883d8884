package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Setting is one effective setting of a loaded config: its value after
// the defaults, and where that value came from.
type Setting struct {
	// Key is the dotted key, with the list index: "inbox[0].settle".
	Key string `json:"key"`
	// Value is the value as TOML writes it: a string (durations and sizes
	// too), a bool, an integer, a number or a list of strings. It is nil
	// when the setting is empty or masked.
	Value any `json:"value,omitempty"`
	// Empty is true for a string or list that is not set.
	Empty bool `json:"empty,omitempty"`
	// List is true for a list setting.
	List bool `json:"-"`
	// Masked replaces the value of a secret: "(set)" or "(set, ends in
	// 1a2b)". The secret itself is never part of a Setting.
	Masked string `json:"masked,omitempty"`
	// Source says where the value came from: "FILE:LINE", "default", or
	// for the API key the environment variable, env file or key file.
	Source string `json:"source"`
}

// mask hides a secret: an API key shows its last 4 characters, enough to
// tell two keys apart (when it is long enough to keep most of it hidden);
// every other secret shows nothing.
func mask(s string, last4 bool) string {
	s = strings.TrimSpace(s)
	if last4 && utf8.RuneCountInString(s) >= 16 {
		r := []rune(s)
		return "(set, ends in " + string(r[len(r)-4:]) + ")"
	}
	return "(set)"
}

// Effective lists every setting of c, in the order of the file's tables,
// with its value and source. getenv reads the environment (os.Getenv in
// production), to say where the API key comes from.
func (c *Config) Effective(getenv func(string) string) []Setting {
	var out []Setting
	c.effective(reflect.ValueOf(c).Elem(), "", &out)
	for i, s := range out {
		var n int
		if _, err := fmt.Sscanf(s.Key, "notify[%d].url", &n); err == nil && strings.HasSuffix(s.Key, "].url") && s.Empty {
			// The URL comes from url_env or url_file: say so, masked.
			in := c.Notify[n]
			src := "url_file " + in.URLFile
			if in.URLEnv != "" {
				src = "environment variable " + in.URLEnv
				if strings.TrimSpace(getenv(in.URLEnv)) == "" && c.API.EnvFile != "" {
					src = fmt.Sprintf("the line %s= of %s", in.URLEnv, c.API.EnvFile)
				}
			}
			out[i].Source = src
			if _, err := c.ResolveNotifyURL(n, getenv); err == nil {
				out[i].Empty, out[i].Masked = false, "(set)"
			}
			continue
		}
		if s.Key == "api.api_key" && s.Masked == "" {
			// The key is not in the file: say where it is read from.
			src := c.APIKeySource(getenv)
			if k, err := c.ResolveAPIKey(getenv); err == nil {
				out[i].Masked = mask(k, true)
			}
			out[i].Source = src.String()
		}
	}
	return out
}

func (c *Config) effective(v reflect.Value, prefix string, out *[]Setting) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		tag := tomlTag(f)
		if tag == "" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[Duration]() || f.Type == reflect.TypeFor[Size]():
		case f.Type.Kind() == reflect.Struct:
			c.effective(fv, key, out)
			continue
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := range fv.Len() {
				c.effective(fv.Index(j), fmt.Sprintf("%s[%d]", key, j), out)
			}
			continue
		}
		s := Setting{Key: key, Source: "default"}
		if line, ok := c.Line(key); ok {
			s.Source = fmt.Sprintf("%s:%d", c.File, line)
		} else if key == "api.env_file" && fv.String() != "" {
			s.Source = "default (the file env beside the config)"
		}
		val := tomlOf(fv)
		switch x := val.(type) {
		case string:
			s.Empty = x == ""
		case []string:
			s.Empty, s.List = len(x) == 0, true
		}
		switch {
		case s.Empty:
			s.Source = "not set"
		case f.Tag.Get("ppsync") == "secret":
			s.Masked = mask(fv.String(), key == "api.api_key")
		default:
			s.Value = val
		}
		*out = append(*out, s)
	}
}

// tomlOf converts a field's value to what TOML writes.
func tomlOf(v reflect.Value) any {
	switch x := v.Interface().(type) {
	case Duration:
		return FormatDuration(x.Duration)
	case Size:
		return FormatSize(x.Bytes)
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint())
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Slice:
		out := make([]string, v.Len())
		for i := range v.Len() {
			out[i] = fmt.Sprint(tomlOf(v.Index(i)))
		}
		return out
	}
	return fmt.Sprint(v.Interface())
}

// FormatDuration writes d as ppsync reads it back: "180d", "1m30s", "500ms".
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// FormatSize writes n bytes in the largest binary unit that holds it
// exactly: "256MiB", "64KiB", "1000".
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// TOMLValue writes v (a Setting's Value) in TOML syntax.
func TOMLValue(v any) string {
	switch x := v.(type) {
	case string:
		return tomlString(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		case math.IsNaN(x):
			return "nan"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = tomlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return tomlString(fmt.Sprint(v))
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// RenderTOML writes settings (from Effective) as a TOML file that ppsync
// reads back: each value with its source as a comment; empty settings and
// masked secrets commented out.
func RenderTOML(settings []Setting) string {
	var b strings.Builder
	table := ""
	for _, s := range settings {
		t, leaf := "", s.Key
		if i := strings.LastIndex(s.Key, "."); i >= 0 {
			t, leaf = s.Key[:i], s.Key[i+1:]
		}
		if t != table {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			if i := strings.LastIndex(t, "["); i > 0 {
				fmt.Fprintf(&b, "[[%s]]\n", t[:i])
			} else {
				fmt.Fprintf(&b, "[%s]\n", t)
			}
			table = t
		}
		switch {
		case s.Masked != "":
			fmt.Fprintf(&b, "# %s = %s  # masked; from %s\n", leaf, tomlString(s.Masked), s.Source)
		case s.Empty && (s.Key == "api.api_key" || strings.HasSuffix(s.Key, "].url") && s.Source != "not set"):
			fmt.Fprintf(&b, "# %s: not found; it is read from %s\n", leaf, s.Source)
		case s.Empty && s.List:
			fmt.Fprintf(&b, "# %s = []  # not set\n", leaf)
		case s.Empty:
			fmt.Fprintf(&b, "# %s = \"\"  # not set\n", leaf)
		default:
			fmt.Fprintf(&b, "%s = %s  # %s\n", leaf, TOMLValue(s.Value), s.Source)
		}
	}
	return b.String()
}
