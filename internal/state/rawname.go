package state

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// File names are bytes: on Unix a name need not be valid UTF-8, and JSON
// would turn such bytes into U+FFFD, naming a file that does not exist. A
// path that is not valid UTF-8 is stored as rawPrefix followed by the
// base64 of its bytes; rawPrefix starts with NUL, which no path holds.
const rawPrefix = "\x00raw:"

func encodeName(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return rawPrefix + base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeName(s string) (string, error) {
	enc, ok := strings.CutPrefix(s, rawPrefix)
	if !ok {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("decode stored file name: %w", err)
	}
	return string(b), nil
}

func encodeNames(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = encodeName(s)
	}
	return out
}

func decodeNames(ss []string) error {
	for i, s := range ss {
		d, err := decodeName(s)
		if err != nil {
			return err
		}
		ss[i] = d
	}
	return nil
}

func decodeAll(ps ...*string) error {
	for _, p := range ps {
		d, err := decodeName(*p)
		if err != nil {
			return err
		}
		*p = d
	}
	return nil
}

type fileJSON File

// MarshalJSON keeps the bytes of names that are not valid UTF-8.
func (f File) MarshalJSON() ([]byte, error) {
	j := fileJSON(f)
	j.Path, j.Inbox, j.Result, j.MovedTo = encodeName(f.Path), encodeName(f.Inbox), encodeName(f.Result), encodeName(f.MovedTo)
	return json.Marshal(j)
}

// UnmarshalJSON restores names stored by MarshalJSON.
func (f *File) UnmarshalJSON(b []byte) error {
	var j fileJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if err := decodeAll(&j.Path, &j.Inbox, &j.Result, &j.MovedTo); err != nil {
		return err
	}
	*f = File(j)
	return nil
}

type docJSON Doc

// MarshalJSON keeps the bytes of names that are not valid UTF-8.
func (d Doc) MarshalJSON() ([]byte, error) {
	j := docJSON(d)
	j.First, j.UploadName = encodeName(d.First), encodeName(d.UploadName)
	return json.Marshal(j)
}

// UnmarshalJSON restores names stored by MarshalJSON.
func (d *Doc) UnmarshalJSON(b []byte) error {
	var j docJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if err := decodeAll(&j.First, &j.UploadName); err != nil {
		return err
	}
	*d = Doc(j)
	return nil
}

type batchJSON Batch

// MarshalJSON keeps the bytes of names that are not valid UTF-8.
func (b Batch) MarshalJSON() ([]byte, error) {
	j := batchJSON(b)
	j.Paths, j.Names = encodeNames(b.Paths), encodeNames(b.Names)
	return json.Marshal(j)
}

// UnmarshalJSON restores names stored by MarshalJSON.
func (b *Batch) UnmarshalJSON(data []byte) error {
	var j batchJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	if err := decodeNames(j.Paths); err != nil {
		return err
	}
	if err := decodeNames(j.Names); err != nil {
		return err
	}
	*b = Batch(j)
	return nil
}
