package config

import (
	"reflect"
	"strings"
)

// Key is one setting of the config file.
type Key struct {
	// Name is the dotted key: "api.rate_window", "inbox.settle" (a key of
	// every [[inbox]]).
	Name string
	// Kind says what is written: "string", "bool", "integer", "number",
	// "duration", "size", "list of strings".
	Kind string
	// Table is true for a list of tables ([[inbox]], [[notify]]): Name is
	// the table, not a key.
	Table bool
	// Secret is true for a value that must not be shown (a key, a
	// password hash, a URL that may hold a token): the field is tagged
	// `ppsync:"secret"`.
	Secret bool
}

// Keys lists every key the file may set, in the order of the Config type.
// It is read from the struct itself, so "did you mean", `ppsync config
// show` and the man page follow every new setting.
func Keys() []Key {
	var out []Key
	walkKeys(reflect.TypeFor[Config](), "", &out)
	return out
}

func walkKeys(t reflect.Type, prefix string, out *[]Key) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := tomlTag(f)
		if tag == "" {
			continue
		}
		name := tag
		if prefix != "" {
			name = prefix + "." + tag
		}
		ft := f.Type
		switch {
		case ft == reflect.TypeFor[Duration]():
			*out = append(*out, Key{Name: name, Kind: "duration"})
		case ft == reflect.TypeFor[Size]():
			*out = append(*out, Key{Name: name, Kind: "size"})
		case ft.Kind() == reflect.Struct:
			walkKeys(ft, name, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			*out = append(*out, Key{Name: name, Kind: "table", Table: true})
			walkKeys(ft.Elem(), name, out)
		case ft.Kind() == reflect.Slice:
			*out = append(*out, Key{Name: name, Kind: "list of " + kindName(ft.Elem()) + "s"})
		default:
			*out = append(*out, Key{Name: name, Kind: kindName(ft), Secret: f.Tag.Get("ppsync") == "secret"})
		}
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return strings.ToLower(t.Kind().String())
}

// knownKeys are the names of Keys() that hold values, for "did you mean".
func knownKeys() []string {
	var out []string
	for _, k := range Keys() {
		if !k.Table {
			out = append(out, k.Name)
		}
	}
	return out
}
