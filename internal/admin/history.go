package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// HistorySource reads the daily totals the state keeps (control/store.Files).
type HistorySource interface {
	// HistoryDays returns the days with events among the last days days,
	// oldest first.
	HistoryDays(days int) ([]state.DayCounts, error)
}

// HistoryDay is one day of GET /api/history.
type HistoryDay struct {
	Date      string `json:"date"` // 2006-01-02, the daemon's local date
	Documents int64  `json:"documents"`
	Pages     int64  `json:"pages"`
	Credits   int64  `json:"credits"`
	Failures  int64  `json:"failures"`
}

// HistoryAnswer is the answer of GET /api/history.
type HistoryAnswer struct {
	Days []HistoryDay `json:"days"`
}

// historyHandler serves GET /api/history?days=N (1 to state.HistoryDays,
// 90 when absent): every day from the first one recorded in the window to
// today, oldest first, a day without events at zero. Days before the
// history began are not listed.
func historyHandler(src HistorySource, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		days := state.HistoryDays
		if v := r.URL.Query().Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > state.HistoryDays {
				http.Error(w, "days must be a whole number from 1 to "+strconv.Itoa(state.HistoryDays), http.StatusBadRequest)
				return
			}
			days = n
		}
		got, err := src.HistoryDays(days)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(HistoryAnswer{Days: fillDays(got, now())})
	}
}

// fillDays lists every day from the first of got to today's date, with the
// counts of got and zero for the days it lacks.
func fillDays(got []state.DayCounts, now time.Time) []HistoryDay {
	out := []HistoryDay{}
	if len(got) == 0 {
		return out
	}
	first, err := time.ParseInLocation(time.DateOnly, got[0].Date, time.Local)
	if err != nil {
		return out
	}
	today := now.Local().Format(time.DateOnly)
	byDate := make(map[string]state.Counts, len(got))
	for _, d := range got {
		byDate[d.Date] = d.Counts
	}
	for i := 0; ; i++ {
		date := time.Date(first.Year(), first.Month(), first.Day()+i, 12, 0, 0, 0, time.Local).Format(time.DateOnly)
		if date > today && i > 0 || i > state.HistoryDays {
			break
		}
		c := byDate[date]
		out = append(out, HistoryDay{Date: date, Documents: c.Documents, Pages: c.Pages, Credits: c.Credits, Failures: c.Failures})
	}
	return out
}
