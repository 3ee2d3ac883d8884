package config

import (
	"path/filepath"
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

// defaultNotes describe the defaults that depend on other settings or on
// where the config is, or keys that have none.
var defaultNotes = map[string]string{
	"api.api_key_env":     `"PP_API_KEY", when neither api_key_file nor api_key is set`,
	"api.env_file":        `the file "env" beside the config, when it exists`,
	"state.path":          `"ppsync-state.db" beside the config`,
	"admin.listen":        "127.0.0.1 and a port from 20000-29999 derived from [state] path",
	"inbox.path":          "required",
	"inbox.parser_id":     "required",
	"inbox.include":       "the types, and the formats the API does not read (they get an error file)",
	"inbox.exclude":       "temporary files and NAS and OS folders (config.example.toml lists them)",
	"inbox.processed_dir": `"processed" in the inbox, with after = "move"`,
	"inbox.failed_dir":    `"failed" in the inbox, with after = "move"`,
	"notify.name":         `"notify1", "notify2", ... by position`,
	"notify.url":          "one of url, url_env and url_file is required",
	"notify.url_env":      "one of url, url_env and url_file is required",
	"notify.url_file":     "one of url, url_env and url_file is required",
	"notify.events":       "failures, inbox, api, credits, restart (and digest with digest_at)",
	"webhook.public_url":  "required with enabled = true",
	"inbox.require":       "none: no field is required",
}

// KeyDefaults returns the default of every key (by Key.Name), as the
// config file writes it or as a sentence; "" for a key without one.
func KeyDefaults() map[string]string {
	dir := string(filepath.Separator) + "ppsync-defaults"
	c, err := Parse(filepath.Join(dir, "config.toml"), []byte("[[inbox]]\npath = \"inbox\"\nparser_id = \"p\"\n[[notify]]\nurl_env = \"X\"\n"))
	out := map[string]string{}
	if err != nil {
		return out // cannot happen: the text above is valid
	}
	for _, s := range c.Effective(func(string) string { return "" }) {
		name := genericKey(s.Key)
		if _, done := out[name]; done {
			continue
		}
		switch note, ok := defaultNotes[name]; {
		case ok:
			out[name] = note
		case s.Empty || s.Masked != "":
			out[name] = ""
		default:
			out[name] = TOMLValue(s.Value)
		}
	}
	return out
}
