package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// decoder copies the generic TOML document (tables as map[string]any) into
// the Config struct key by key, so that one wrong key does not hide the
// next: every unknown key and every value of the wrong type becomes an
// Error with its line, in plain words (never a Go type name).
type decoder struct {
	file string
	loc  *locator
	errs Errors
	// bad are the keys already reported, so validation does not report
	// them a second time (a "required" key whose value had the wrong type).
	bad map[string]bool
}

func (d *decoder) fail(key, format string, args ...any) {
	d.bad[key] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: d.loc.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// tomlTag is the key a struct field is read from ("" when never read).
func tomlTag(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// table decodes one TOML table into the struct dst. prefix is the dotted
// key of the table ("" at the top, "api", "inbox[0]").
func (d *decoder) table(dst reflect.Value, tbl map[string]any, prefix string) {
	fields := map[string]int{}
	for i := range dst.NumField() {
		if tag := tomlTag(dst.Type().Field(i)); tag != "" {
			fields[tag] = i
		}
	}
	keys := make([]string, 0, len(tbl))
	for k := range tbl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		i, ok := fields[k]
		if _, isTable := tbl[k].(map[string]any); !ok && isTable {
			msg := "unknown table"
			if s := suggestTable(genericKey(key)); s != "" {
				msg += fmt.Sprintf(" (did you mean [%s]?)", s)
			} else {
				msg += " (see config.example.toml for every table)"
			}
			d.fail(key, "%s", msg)
			continue
		}
		if !ok {
			msg := "unknown key"
			if s := suggest(genericKey(key)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (see config.example.toml for every key)"
			}
			d.fail(key, "%s", msg)
			continue
		}
		d.value(dst.Field(i), tbl[k], key)
	}
}

var unmarshalerType = reflect.TypeFor[toml.Unmarshaler]()

// value decodes one value into dst, reporting a wrong type.
func (d *decoder) value(dst reflect.Value, val any, key string) {
	if dst.CanAddr() && dst.Addr().Type().Implements(unmarshalerType) {
		if err := dst.Addr().Interface().(toml.Unmarshaler).UnmarshalTOML(val); err != nil {
			d.fail(key, "%s", err.Error())
		}
		return
	}
	leaf := key[strings.LastIndex(key, ".")+1:]
	wrong := func(want, example string) {
		d.fail(key, "must be %s, not %s: write %s", want, describe(val), example)
	}
	switch dst.Kind() {
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			wrong("a string", fmt.Sprintf("%s = \"...\" (in quotes)", leaf))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			wrong("true or false", fmt.Sprintf("%s = true (without quotes)", leaf))
			return
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := val.(int64)
		if !ok {
			wrong("a whole number", fmt.Sprintf("%s = 10 (without quotes)", leaf))
			return
		}
		if dst.OverflowInt(n) {
			d.fail(key, "%d is too large", n)
			return
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := val.(int64)
		if !ok || n < 0 {
			wrong("a whole number, 0 or more", fmt.Sprintf("%s = 10 (without quotes)", leaf))
			return
		}
		if dst.OverflowUint(uint64(n)) {
			d.fail(key, "%d is too large", n)
			return
		}
		dst.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch x := val.(type) {
		case float64:
			dst.SetFloat(x)
		case int64:
			dst.SetFloat(float64(x))
		default:
			wrong("a number", fmt.Sprintf("%s = 1.5 (without quotes)", leaf))
		}
	case reflect.Struct:
		if dst.Type() == reflect.TypeFor[time.Time]() {
			t, ok := val.(time.Time)
			if !ok {
				wrong("a date and time", fmt.Sprintf("%s = 2026-01-31T08:00:00Z", leaf))
				return
			}
			dst.Set(reflect.ValueOf(t))
			return
		}
		switch x := val.(type) {
		case map[string]any:
			d.table(dst, x, key)
		case []map[string]any:
			d.fail(key, "`[[%s]]` must be written `[%s]`: there is one [%s] table", key, key, key)
		default:
			d.fail(key, "must be a table (a [%s] section), not %s", key, describe(val))
		}
	case reflect.Slice:
		d.slice(dst, val, key)
	case reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		d.value(p.Elem(), val, key)
		dst.Set(p)
	default:
		d.fail(key, "this key cannot be set in the file")
	}
}

// plural explains, for a list of tables written as a single table, why it
// is a list.
var plural = map[string]string{
	"inbox":  "ppsync can watch several inboxes, each one is a `[[inbox]]` table",
	"notify": "ppsync can tell several targets, each one is a `[[notify]]` table",
}

func (d *decoder) slice(dst reflect.Value, val any, key string) {
	elem := dst.Type().Elem()
	tables := elem.Kind() == reflect.Struct && !reflect.PointerTo(elem).Implements(unmarshalerType)
	var items []any
	switch x := val.(type) {
	case []any:
		items = x
	case []map[string]any:
		for _, m := range x {
			items = append(items, m)
		}
	case map[string]any:
		if tables {
			why := plural[genericKey(key)]
			if why == "" {
				why = fmt.Sprintf("it is a list, each entry a `[[%s]]` table", key)
			}
			d.fail(key, "`[%s]` must be written `[[%s]]`: %s", key, key, why)
			return
		}
		d.fail(key, "must be a list such as [\"a\", \"b\"], not a table")
		return
	default:
		if tables {
			d.fail(key, "must be written as `[[%s]]` tables, not %s", key, describe(val))
			return
		}
		d.fail(key, "must be a list such as %s = [\"a\", \"b\"], not %s", key[strings.LastIndex(key, ".")+1:], describe(val))
		return
	}
	out := reflect.MakeSlice(dst.Type(), len(items), len(items))
	for i, it := range items {
		k := fmt.Sprintf("%s[%d]", key, i)
		if tables {
			m, ok := it.(map[string]any)
			if !ok {
				d.fail(key, "must be written as `[[%s]]` tables, not %s", key, describe(it))
				return
			}
			d.table(out.Index(i), m, k)
			continue
		}
		before := len(d.errs)
		d.value(out.Index(i), it, key)
		if len(d.errs) > before {
			return // one message per list is enough
		}
	}
	dst.Set(out)
}

// describe names a TOML value's type in the words of the TOML docs.
func describe(val any) string {
	switch x := val.(type) {
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case bool:
		return fmt.Sprintf("true/false (%v)", x)
	case int64:
		return fmt.Sprintf("a number (%d)", x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "a number"
		}
		return fmt.Sprintf("a number (%v)", x)
	case time.Time:
		return "a date"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a value of another type"
}

// genericKey drops list indexes: "inbox[1].settle" → "inbox.settle".
func genericKey(key string) string {
	var b strings.Builder
	skip := false
	for _, r := range key {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// suggestTable finds the table meant by a misspelt table name.
func suggestTable(name string) string {
	best, bestD := "", 3
	for _, k := range Keys() {
		i := strings.LastIndex(k.Name, ".")
		if i < 0 {
			continue
		}
		t := k.Name[:i]
		if d := levenshtein(strings.ToLower(name), t); d < bestD {
			best, bestD = t, d
		}
	}
	return best
}
