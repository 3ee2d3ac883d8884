package uploader

import "time"

// credits owns the credit balance as the uploader sees it: the balance the
// API last reported, less the pages of batches reserved in flight. It is
// guarded by the uploader's mutex.
//
// A batch reserves its pages when it is formed; when its submission ends,
// the reservation ends one of three ways: settle (the API took it and maybe
// said what is left), release (it was not charged: refused, dissolved,
// split, given up) or exhausted (402: nothing is left).
type credits struct {
	balance  int  // pages that may still be sent
	known    bool // balance comes from the API; until then nothing is held back
	reserved int  // pages of batches formed and not yet answered
	waiting  bool // submissions wait for credits
	checked  time.Time
}

// observe records a balance read from the API (GET /v1/me), which does not
// yet reflect the batches in flight.
func (c *credits) observe(available int, at time.Time) {
	c.balance, c.known, c.checked = available-c.reserved, true, at
}

// fits reports whether pages more can be sent after taken are.
func (c *credits) fits(taken, pages int) bool {
	return !c.known || taken+pages <= c.balance
}

// reserve holds pages for a batch about to be sent.
func (c *credits) reserve(pages int) {
	c.balance -= pages
	c.reserved += pages
}

// settle ends a reservation the API accepted; remaining, when the answer
// carried it, is the balance after this batch.
func (c *credits) settle(pages int, remaining *int) {
	c.reserved -= pages
	if remaining != nil {
		c.balance, c.known = *remaining-c.reserved, true
	}
}

// release ends a reservation that was not charged: its pages return.
func (c *credits) release(pages int) {
	c.reserved -= pages
	c.balance += pages
}

// exhausted ends a reservation the API refused for lack of credits: the
// balance is zero until it is read again.
func (c *credits) exhausted(pages int, at time.Time) {
	c.reserved -= pages
	c.balance, c.known, c.waiting, c.checked = -c.reserved, true, true, at
}

// recheckDue reports whether the balance should be read again while
// waiting for credits, and if so marks it as being read now.
func (c *credits) recheckDue(now time.Time, every time.Duration) bool {
	if !c.waiting || now.Sub(c.checked) < every {
		return false
	}
	c.checked = now
	return true
}
