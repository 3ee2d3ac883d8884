package patience

import (
	"testing"
	"time"
)

func TestOverrideBoundsAndScales(t *testing.T) {
	for _, c := range []struct {
		env  string
		want float64
	}{{"1", 1}, {"2.5", 2.5}, {"50", MaxFactor}} {
		t.Setenv("PPSYNC_TEST_PATIENCE", c.env)
		if got := Factor(); got != c.want {
			t.Errorf("PPSYNC_TEST_PATIENCE=%s: factor %v, want %v", c.env, got, c.want)
		}
		if got := Scale(time.Second); got != time.Duration(c.want*float64(time.Second)) {
			t.Errorf("PPSYNC_TEST_PATIENCE=%s: Scale(1s) = %v", c.env, got)
		}
	}
}

func TestMeasuredFactorIsBounded(t *testing.T) {
	t.Setenv("PPSYNC_TEST_PATIENCE", "")
	if f := Factor(); f < 1 || f > MaxFactor {
		t.Fatalf("factor %v outside [1, %d]", f, MaxFactor)
	}
	t.Log(Describe())
}

func TestWaitReturnsWhenTheConditionHoldsOrTimeRunsOut(t *testing.T) {
	t.Setenv("PPSYNC_TEST_PATIENCE", "1")
	n := 0
	if !Wait(time.Minute, time.Millisecond, func() bool { n++; return n == 3 }) {
		t.Fatal("Wait gave up on a condition that held at the third poll")
	}
	start := time.Now()
	if Wait(30*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("Wait reported a condition that never held")
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("Wait gave up before its deadline")
	}
}
