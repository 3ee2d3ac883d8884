package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

type days []state.DayCounts

func (d days) HistoryDays(n int) ([]state.DayCounts, error) { return d, nil }

func TestHistoryFillsTheDaysBetween(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.Local)
	src := days{
		{Date: "2026-12-04", Counts: state.Counts{Documents: 3, Pages: 7, Credits: 7, Failures: 1}},
		{Date: "2026-12-06", Counts: state.Counts{Documents: 1, Pages: 2, Credits: 2}},
	}
	h := historyHandler(src, func() time.Time { return now })
	for _, tc := range []struct {
		query string
		code  int
	}{{"", http.StatusOK}, {"?days=90", http.StatusOK}, {"?days=0", http.StatusBadRequest}, {"?days=91", http.StatusBadRequest}, {"?days=x", http.StatusBadRequest}} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest("GET", "/api/history"+tc.query, nil))
		if rec.Code != tc.code {
			t.Errorf("%s: %d, want %d (%s)", tc.query, rec.Code, tc.code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/api/history?days=90", nil))
	var got HistoryAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []HistoryDay{
		{Date: "2026-12-04", Documents: 3, Pages: 7, Credits: 7, Failures: 1},
		{Date: "2026-12-05"},
		{Date: "2026-12-06", Documents: 1, Pages: 2, Credits: 2},
		{Date: "2026-12-07"},
	}
	if len(got.Days) != len(want) {
		t.Fatalf("days %+v, want %+v", got.Days, want)
	}
	for i := range want {
		if got.Days[i] != want[i] {
			t.Errorf("day %d: %+v, want %+v", i, got.Days[i], want[i])
		}
	}
	rec = httptest.NewRecorder()
	historyHandler(days{}, func() time.Time { return now })(rec, httptest.NewRequest("GET", "/api/history", nil))
	if body := rec.Body.String(); body != "{\"days\":[]}\n" {
		t.Errorf("no history: %q", body)
	}
}
