package activity

import (
	"testing"
	"time"
)

// A recorder restored from another's history draws the same picture:
// chart, percentiles, burn rate and forecast.
func TestRestoreGivesTheSamePicture(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	clock := now.Add(-3 * time.Hour)
	a := New(func() time.Time { return clock })
	var lat []time.Duration
	for i := range 180 {
		clock = now.Add(-3 * time.Hour).Add(time.Duration(i) * time.Minute)
		a.Credits(1000 - i)
		d := time.Duration(i%7+1) * time.Second
		a.Result(d, 2)
		lat = append(lat, d)
	}
	clock = now
	b := New(func() time.Time { return now })
	var hrs []Hour
	for _, h := range a.Snapshot().Hours {
		if h.Docs > 0 {
			hrs = append(hrs, h)
		}
	}
	b.Restore(hrs, lat, a.CreditSamples())
	sa, sb := a.Snapshot(), b.Snapshot()
	if sb.BurnPerDay == nil || *sb.BurnPerDay != *sa.BurnPerDay || *sb.RunsOutInDays != *sa.RunsOutInDays {
		t.Errorf("burn %v / %v days after restoring, want %v / %v", sb.BurnPerDay, sb.RunsOutInDays, *sa.BurnPerDay, *sa.RunsOutInDays)
	}
	if sb.LatencyP50 != sa.LatencyP50 || sb.LatencyP95 != sa.LatencyP95 || sb.LatencySamples != sa.LatencySamples {
		t.Errorf("percentiles %v/%v of %d, want %v/%v of %d", sb.LatencyP50, sb.LatencyP95, sb.LatencySamples, sa.LatencyP50, sa.LatencyP95, sa.LatencySamples)
	}
	for i := range sa.Hours {
		if sa.Hours[i] != sb.Hours[i] {
			t.Errorf("hour %d: %+v, want %+v", i, sb.Hours[i], sa.Hours[i])
		}
	}
}
