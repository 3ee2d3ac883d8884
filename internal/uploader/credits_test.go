package uploader

import (
	"testing"
	"time"
)

func intp(n int) *int { return &n }

// The balance and the reservations stay consistent through every way a
// batch's time in flight can end.
func TestCredits(t *testing.T) {
	type op func(c *credits)
	now := time.Unix(1000, 0)
	tests := []struct {
		name              string
		ops               []op
		balance, reserved int
		known, waiting    bool
	}{
		{"unknown balance holds nothing back", nil, 0, 0, false, false},
		{"read from the API", []op{func(c *credits) { c.observe(100, now) }}, 100, 0, true, false},
		{"reserve then accepted with the remaining balance", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(10) },
			func(c *credits) { c.settle(10, intp(90)) },
		}, 90, 0, true, false},
		{"accepted without a balance keeps the reservation spent", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(10) },
			func(c *credits) { c.settle(10, nil) },
		}, 90, 0, true, false},
		{"partial job: another batch still in flight is kept out of the remaining balance", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(10) },
			func(c *credits) { c.reserve(20) },
			func(c *credits) { c.settle(10, intp(90)) }, // the API has not charged the 20 yet
		}, 70, 20, true, false},
		{"refused without charge gives the pages back", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(30) },
			func(c *credits) { c.release(30) },
		}, 100, 0, true, false},
		{"split: the whole is released, the halves reserved", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(30) },
			func(c *credits) { c.reserve(10) },
			func(c *credits) { c.reserve(20) },
			func(c *credits) { c.release(30) },
			func(c *credits) { c.settle(10, intp(90)) },
			func(c *credits) { c.settle(20, intp(70)) },
		}, 70, 0, true, false},
		{"402 empties the balance and waits", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(30) },
			func(c *credits) { c.exhausted(30, now) },
		}, 0, 0, true, true},
		{"402 while another batch is in flight", []op{
			func(c *credits) { c.observe(100, now) },
			func(c *credits) { c.reserve(30) },
			func(c *credits) { c.reserve(5) },
			func(c *credits) { c.exhausted(30, now) },
		}, -5, 5, true, true},
		{"top-up read while a batch is in flight", []op{
			func(c *credits) { c.observe(0, now) },
			func(c *credits) { c.waiting = true },
			func(c *credits) { c.reserve(5) },
			func(c *credits) { c.observe(500, now) },
		}, 495, 5, true, true},
		{"replayed batch after a restart, answered from the cache", []op{
			func(c *credits) { c.observe(40, now) },
			func(c *credits) { c.reserve(10) }, // replay reserves like any batch
			func(c *credits) { c.settle(10, intp(40)) },
		}, 40, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c credits
			for _, o := range tt.ops {
				o(&c)
			}
			if c.balance != tt.balance || c.reserved != tt.reserved || c.known != tt.known || c.waiting != tt.waiting {
				t.Errorf("balance=%d reserved=%d known=%v waiting=%v, want %d %d %v %v",
					c.balance, c.reserved, c.known, c.waiting, tt.balance, tt.reserved, tt.known, tt.waiting)
			}
		})
	}
}

func TestCreditsFitsAndRecheck(t *testing.T) {
	var c credits
	if !c.fits(1000, 1000) {
		t.Error("an unknown balance must not hold files back")
	}
	now := time.Unix(1000, 0)
	c.observe(10, now)
	for _, tt := range []struct {
		taken, pages int
		want         bool
	}{{0, 10, true}, {0, 11, false}, {5, 5, true}, {5, 6, false}} {
		if got := c.fits(tt.taken, tt.pages); got != tt.want {
			t.Errorf("fits(%d, %d) = %v, want %v", tt.taken, tt.pages, got, tt.want)
		}
	}
	if c.recheckDue(now.Add(time.Hour), time.Second) {
		t.Error("recheck due while not waiting")
	}
	c.exhausted(0, now)
	if c.recheckDue(now.Add(500*time.Millisecond), time.Second) {
		t.Error("recheck due before the interval")
	}
	if !c.recheckDue(now.Add(time.Second), time.Second) {
		t.Error("recheck not due after the interval")
	}
	if c.recheckDue(now.Add(1500*time.Millisecond), time.Second) {
		t.Error("recheck due twice within one interval")
	}
}
