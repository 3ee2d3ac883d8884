package emulator

import (
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// worker processes queued documents: processing-time per page each.
func (e *Emulator) worker() {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		for len(e.queue) == 0 && e.ctx.Err() == nil {
			e.queueCond.Wait()
		}
		if e.ctx.Err() != nil {
			e.mu.Unlock()
			return
		}
		d := e.queue[0]
		e.queue = e.queue[1:]
		now := e.now()
		d.Status = apitypes.StatusProcessing
		d.updated = now
		if d.job.Status == apitypes.StatusQueued {
			d.job.Status = apitypes.StatusProcessing
			d.job.updated = now
		}
		work := time.Duration(d.PageCount) * e.opts.ProcessingTime
		e.mu.Unlock()

		t := time.NewTimer(work)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		e.finish(d, work)
	}
}

func (e *Emulator) finish(d *doc, work time.Duration) {
	e.mu.Lock()
	now := e.now()
	d.updated = now
	ms := work.Milliseconds()
	d.ProcessingTimeMS = &ms
	if d.fail {
		d.Status = apitypes.StatusFailed
		d.ErrorMessage = ptr("Extraction failed: the document could not be read.")
	} else {
		d.Status = apitypes.StatusCompleted
		conf := 0.9 + 0.09*float64(len(d.text)%10)/10
		d.ExtractedData = invoiceData(d.text) // images carry made-up receipt lines (image.go)
		d.ExtractedData, conf = reviewQuirks(d.text, d.ExtractedData, conf)
		d.Confidence = &conf
	}
	j := d.job
	j.updated = now
	terminal := true
	var done, failed int
	for _, x := range j.docs {
		switch x.Status {
		case apitypes.StatusCompleted:
			done++
		case apitypes.StatusFailed:
			failed++
		default:
			terminal = false
		}
	}
	if terminal {
		switch {
		case failed == 0:
			j.Status = apitypes.StatusCompleted
		case done == 0:
			j.Status = apitypes.StatusFailed
		default:
			j.Status = apitypes.StatusPartial
		}
		c := ts(now)
		j.CompletedAt = &c
	}
	events := e.eventsFor(d, terminal)
	e.mu.Unlock()
	for _, ev := range events {
		e.deliver(ev)
	}
}
