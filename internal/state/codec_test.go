package state

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The records' codec skips json's extra validation pass; it must write and
// read exactly what json.Marshal and json.Unmarshal would.
func TestRecordCodecMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 4, time.UTC)
	odd := "in\xffbox/<a&b>\u2028 \"q\".pdf"
	records := []any{
		Doc{Key: "k1", SHA256: "ab", State: DocDone, First: odd, UploadName: odd,
			Result: json.RawMessage(`{ "total" : "<1 & 2>", "lines": [1, 2] }`), Updated: at},
		File{Path: odd, Inbox: "/in\xfe", Result: odd + ".json", State: FileDone, Updated: at},
		Batch{Paths: []string{odd, "/in/b.pdf"}, Names: []string{odd, "b.pdf"}},
		struct {
			State DocState `json:"state"`
		}{DocQueued},
	}
	for _, r := range records {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%T: encode wrote\n%s\njson.Marshal writes\n%s", r, got, want)
		}
		viaJSON := reflect.New(reflect.TypeOf(r))
		if err := json.Unmarshal(want, viaJSON.Interface()); err != nil {
			t.Fatal(err)
		}
		viaDecode := reflect.New(reflect.TypeOf(r))
		if err := decode(want, viaDecode.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaDecode.Elem().Interface(), viaJSON.Elem().Interface()) {
			t.Errorf("%T: decode read %+v, json.Unmarshal reads %+v", r, viaDecode.Elem(), viaJSON.Elem())
		}
	}
	// A damaged record is refused as json.Unmarshal refuses it.
	for _, bad := range []string{`{"key":"k1"} x`, `{"key":`, `[1]`} {
		var d Doc
		if err := decode([]byte(bad), &d); err == nil {
			t.Errorf("decode(%q) = nil error", bad)
		}
	}
}
