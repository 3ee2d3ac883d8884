// Package poller takes submitted documents to done: one list call per tick
// finds every job in flight that changed, then one results call per changed
// job fetches what finished, and the result files are written beside the
// local files. It never submits.
package poller

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// API is what the poller needs from the client.
type API interface {
	ListExtractions(ctx context.Context, o api.ListOptions, cursor string) (apitypes.ExtractionList, error)
	Extraction(ctx context.Context, id string) (apitypes.Extraction, error)
	Results(ctx context.Context, id string) (apitypes.Extraction, error)
	Document(ctx context.Context, extractionID, documentID string) (apitypes.Document, error)
}

// Options wires a Poller.
type Options struct {
	Store    *state.Store
	API      API
	Inboxes  []config.Inbox
	Interval time.Duration
	Logger   *slog.Logger
	// OnFinished is called after a file's result or error file is written.
	OnFinished func(f state.File, doc json.RawMessage)
	// NudgeBudget is how many webhook-driven reads may be made per
	// NudgeWindow (defaults: 70 % of what 150 requests less 20 submissions
	// leave, per minute).
	NudgeBudget int
	NudgeWindow time.Duration
}

// Poller is the result stage.
type Poller struct {
	o   Options
	log *slog.Logger
	st  *state.Store

	mu       sync.Mutex
	jobs     map[string]*job
	pending  map[string]bool // doc keys finished whose files still need writing
	lastPoll time.Time
	lastErr  string
	kick     chan struct{}
	resched  chan struct{}
	// writeErrors counts result files that could not be written.
	writeErrors atomic.Int64

	// Webhook nudges, coalesced per job.
	nudges    map[string]*nudge
	nudgeKick chan struct{}
	nudgeLim  *rate.Limiter
}

type nudge struct {
	docs    map[string]bool
	jobDone bool
	first   time.Time
}

// WriteErrors returns how many result writes failed since start.
func (p *Poller) WriteErrors() int64 { return p.writeErrors.Load() }

type job struct {
	id        string
	docs      map[string]string // document id -> doc key
	finished  map[string]bool   // document ids written
	submitted time.Time
	updated   time.Time // server's updated_at, once seen
	seenAt    time.Time
}

// skew is how far the server's clock may lag ours without a missed result.
const skew = 5 * time.Minute

// New builds a poller.
func New(o Options) *Poller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NudgeWindow <= 0 {
		o.NudgeWindow = time.Minute
	}
	if o.NudgeBudget <= 0 {
		o.NudgeBudget = (150 - 20) * 7 / 10
	}
	return &Poller{o: o, log: o.Logger.With("component", "poller"), st: o.Store,
		jobs: map[string]*job{}, pending: map[string]bool{}, kick: make(chan struct{}, 1), resched: make(chan struct{}, 1),
		nudges: map[string]*nudge{}, nudgeKick: make(chan struct{}, 1),
		nudgeLim: rate.NewLimiter(rate.Limit(float64(o.NudgeBudget-3)/o.NudgeWindow.Seconds()), 3)}
}

// Nudge records a webhook's news: a document of a job (or the whole job)
// finished. Nudges are coalesced per job and served by RunNudges.
func (p *Poller) Nudge(extractionID, documentID string, jobDone bool) {
	p.mu.Lock()
	n := p.nudges[extractionID]
	if n == nil {
		n = &nudge{docs: map[string]bool{}, first: time.Now()}
		p.nudges[extractionID] = n
	}
	if documentID != "" {
		n.docs[documentID] = true
	}
	n.jobDone = n.jobDone || jobDone
	p.mu.Unlock()
	select {
	case p.nudgeKick <- struct{}{}:
	default:
	}
}

// RunNudges turns webhook news into reads: per job, one document read for a
// lone document, else one results read for everything that finished;
// within its own budget so a burst of events never crowds out submissions.
func (p *Poller) RunNudges(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.nudgeKick:
			// Let events of the same job gather for one tick.
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		case <-t.C:
		}
		for {
			id, n, ok := p.nextNudge()
			if !ok {
				break
			}
			if err := p.nudgeLim.Wait(ctx); err != nil {
				return
			}
			p.serveNudge(ctx, id, n)
		}
	}
}

// nextNudge takes the oldest nudge for a job the poller tracks; nudges for
// jobs not tracked yet (the webhook beat the submission answer) wait, and
// are dropped after a minute (the safety-net poll covers them).
func (p *Poller) nextNudge() (string, *nudge, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best string
	for id, n := range p.nudges {
		if _, tracked := p.jobs[id]; !tracked {
			if time.Since(n.first) > time.Minute {
				delete(p.nudges, id)
			}
			continue
		}
		if best == "" || n.first.Before(p.nudges[best].first) {
			best = id
		}
	}
	if best == "" {
		return "", nil, false
	}
	n := p.nudges[best]
	delete(p.nudges, best)
	return best, n, true
}

func (p *Poller) serveNudge(ctx context.Context, id string, n *nudge) {
	p.mu.Lock()
	j := p.jobs[id]
	unfinished := 0
	if j != nil {
		unfinished = len(j.docs) - len(j.finished)
	}
	p.mu.Unlock()
	if j == nil || unfinished == 0 {
		return
	}
	if len(n.docs) == 1 && !n.jobDone && unfinished > 1 {
		for docID := range n.docs {
			d, err := p.o.API.Document(ctx, id, docID)
			if err != nil {
				p.log.Warn("cannot fetch a document a webhook announced; polling will", "extraction_id", id, "document_id", docID, "error", err)
				return
			}
			if docTerminal(d.Status) {
				p.finishFromAPI(ctx, j, d)
			}
		}
		return
	}
	p.fetch(ctx, id)
}

// Recover loads jobs in flight and results still to write from the state.
func (p *Poller) Recover() error {
	return p.st.View(func(tx *state.Tx) error {
		return tx.Docs(func(d state.Doc) error {
			switch d.State {
			case state.DocSubmitted:
				j := p.jobs[d.ExtractionID]
				if j == nil {
					j = &job{id: d.ExtractionID, docs: map[string]string{}, finished: map[string]bool{}, submitted: d.SubmittedAt}
					p.jobs[d.ExtractionID] = j
				}
				j.docs[d.DocumentID] = d.Key
				if d.SubmittedAt.Before(j.submitted) {
					j.submitted = d.SubmittedAt
				}
			case state.DocDone, state.DocFailed:
				for _, f := range d.Files {
					if rec, ok, _ := tx.File(f); ok && (rec.State == state.FileQueued || rec.State == state.FileDuplicate) {
						p.pending[d.Key] = true
					}
				}
			}
			return nil
		})
	})
}

// Track adds a submitted job (uploader.Tracker).
func (p *Poller) Track(extractionID string, docKeys map[string]string) {
	p.mu.Lock()
	j := p.jobs[extractionID]
	if j == nil {
		j = &job{id: extractionID, docs: map[string]string{}, finished: map[string]bool{}, submitted: time.Now()}
		p.jobs[extractionID] = j
	}
	for id, k := range docKeys {
		j.docs[id] = k
	}
	p.mu.Unlock()
	select { // reschedule: this job has early polls of its own
	case p.resched <- struct{}{}:
	default:
	}
}

// InFlight returns the jobs and documents waiting for results.
func (p *Poller) InFlight() (jobs, docs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		docs += len(j.docs) - len(j.finished)
	}
	return len(p.jobs), docs
}

// Idle reports that no job is in flight and no result waits to be written.
func (p *Poller) Idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs) == 0 && len(p.pending) == 0
}

// LastPoll returns the time of the last successful poll and the last error.
func (p *Poller) LastPoll() (time.Time, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastPoll, p.lastErr
}

// Run polls every interval until ctx ends. Nothing is called while nothing
// is in flight.
func (p *Poller) Run(ctx context.Context) {
	pollNow := true
	for {
		p.writePending(ctx)
		if n, _ := p.InFlight(); n > 0 && pollNow {
			p.poll(ctx)
		}
		t := time.NewTimer(p.nextWait())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			pollNow = true
		case <-p.kick:
			t.Stop()
			pollNow = true
		case <-p.resched:
			t.Stop()
			pollNow = false
		}
	}
}

// earlyPolls are the ages of a fresh job at which it is looked for before
// the regular interval takes over: short jobs finish within a second or
// two, and waiting a whole interval would add that to every result.
var earlyPolls = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// nextWait is the time until the next poll: the interval, or sooner when a
// job submitted moments ago reaches one of its early-poll ages.
func (p *Poller) nextWait() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	wait := p.o.Interval
	now := time.Now()
	for _, j := range p.jobs {
		age := now.Sub(j.submitted)
		for _, at := range earlyPolls {
			if at > age && at < p.o.Interval {
				wait = min(wait, at-age)
				break
			}
		}
	}
	return max(wait, 50*time.Millisecond)
}

// SetInterval changes the polling interval (webhook mode slows it down to a
// safety net) and polls once now.
func (p *Poller) SetInterval(d time.Duration) {
	p.mu.Lock()
	p.o.Interval = d
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Poller) poll(ctx context.Context) {
	p.mu.Lock()
	since := time.Time{}
	for _, j := range p.jobs {
		s := j.submitted.Add(-skew)
		if !j.updated.IsZero() {
			s = j.updated.Add(-time.Second)
		}
		if since.IsZero() || s.Before(since) {
			since = s
		}
	}
	p.mu.Unlock()

	changed := map[string]bool{}
	cursor := ""
	start := time.Now()
	for pages := 0; ; pages++ {
		page, err := p.o.API.ListExtractions(ctx, api.ListOptions{Since: since, Limit: 100}, cursor)
		if err != nil {
			if ctx.Err() == nil {
				p.mu.Lock()
				p.lastErr = err.Error()
				p.mu.Unlock()
				p.log.Warn("cannot list extractions; results are fetched at the next poll", "error", err)
			}
			return
		}
		p.mu.Lock()
		for _, e := range page.Extractions {
			j := p.jobs[e.ExtractionID]
			if j == nil {
				continue
			}
			j.seenAt = start
			if t, err := time.Parse(time.RFC3339Nano, e.UpdatedAt); err == nil {
				j.updated = t
			}
			finished := -1
			if s := e.DocumentSummary; s != nil {
				finished = s.Completed + s.Failed
			}
			if terminal(e.Status) || finished < 0 || finished > len(j.finished) {
				changed[j.id] = true
			}
			if !known(e.Status) {
				p.log.Warn("unknown extraction status; treating it as not finished", "extraction_id", e.ExtractionID, "status", e.Status)
			}
		}
		p.mu.Unlock()
		nc := page.Pagination.NextCursor
		if !page.Pagination.HasNextPage || nc == nil || *nc == "" || *nc == cursor || pages > 1000 {
			break
		}
		cursor = *nc
	}
	// Safety net: a job the list has not shown for a while is asked directly.
	p.mu.Lock()
	var stale []string
	for id, j := range p.jobs {
		last := j.seenAt
		if last.IsZero() {
			last = j.submitted
		}
		if !changed[id] && start.Sub(last) > 20*p.o.Interval {
			stale = append(stale, id)
		}
	}
	p.lastPoll, p.lastErr = time.Now(), ""
	p.mu.Unlock()
	for _, id := range stale {
		x, err := p.o.API.Extraction(ctx, id)
		if err != nil {
			p.log.Warn("cannot read extraction status", "extraction_id", id, "error", err)
			continue
		}
		p.mu.Lock()
		if j := p.jobs[id]; j != nil {
			j.seenAt = start
		}
		p.mu.Unlock()
		if terminal(x.Status) || anyFinished(x.Documents) {
			changed[id] = true
		}
	}
	for id := range changed {
		p.fetch(ctx, id)
	}
}

func terminal(s string) bool {
	return s == apitypes.StatusCompleted || s == apitypes.StatusFailed || s == apitypes.StatusPartial
}

func known(s string) bool {
	return terminal(s) || s == apitypes.StatusQueued || s == apitypes.StatusPending || s == apitypes.StatusProcessing
}

func anyFinished(ds []apitypes.Document) bool {
	return slices.ContainsFunc(ds, func(d apitypes.Document) bool { return docTerminal(d.Status) })
}

func docTerminal(s string) bool { return s == apitypes.StatusCompleted || s == apitypes.StatusFailed }

// fetch reads a job's results and finishes every document that is done.
func (p *Poller) fetch(ctx context.Context, id string) {
	res, err := p.o.API.Results(ctx, id)
	if err != nil {
		if api.IsNotFound(err) {
			p.log.Error("the API no longer knows a submitted job; its files are marked failed", "extraction_id", id)
			p.failJob(ctx, id, "RESOURCE_NOT_FOUND", "the API no longer knows this submission ("+id+"); run 'ppsync retry --failed' to send the files again")
			return
		}
		p.log.Warn("cannot fetch results; trying again at the next poll", "extraction_id", id, "error", err)
		return
	}
	p.mu.Lock()
	j := p.jobs[id]
	p.mu.Unlock()
	if j == nil {
		return
	}
	got := map[string]bool{}
	for _, d := range res.Documents {
		if !docTerminal(d.Status) {
			continue
		}
		got[d.DocumentID] = true
		p.finishFromAPI(ctx, j, d)
	}
	// A finished job whose results left out one of our documents: ask for it.
	if terminal(res.Status) {
		p.mu.Lock()
		var missing []string
		for docID := range j.docs {
			if !j.finished[docID] && !got[docID] {
				missing = append(missing, docID)
			}
		}
		p.mu.Unlock()
		for _, docID := range missing {
			d, err := p.o.API.Document(ctx, id, docID)
			if err != nil {
				p.log.Warn("cannot fetch a document of a finished job", "extraction_id", id, "document_id", docID, "error", err)
				continue
			}
			if docTerminal(d.Status) {
				p.finishFromAPI(ctx, j, d)
			}
		}
	}
}

func (p *Poller) finishFromAPI(ctx context.Context, j *job, d apitypes.Document) {
	p.mu.Lock()
	key, ok := j.docs[d.DocumentID]
	already := j.finished[d.DocumentID]
	p.mu.Unlock()
	if !ok || already {
		return
	}
	raw := d.Raw()
	if raw == nil {
		raw, _ = json.Marshal(d)
	}
	err := p.st.Update(func(tx *state.Tx) error {
		rec, ok, err := tx.Doc(key)
		if err != nil || !ok {
			return err
		}
		if rec.State != state.DocDone && rec.State != state.DocFailed {
			rec.Result, rec.Updated = raw, time.Now()
			if d.Status == apitypes.StatusCompleted {
				rec.State = state.DocDone
			} else {
				rec.State, rec.Code = state.DocFailed, "EXTRACTION_FAILED"
				rec.Message = "PerfectParser could not extract this document"
				if d.ErrorMessage != nil && *d.ErrorMessage != "" {
					rec.Message += ": " + *d.ErrorMessage
				}
				rec.Message += " (the credits stay charged; ppsync does not resend it by itself: check the file, then run 'ppsync retry' on it if you want to)"
			}
		}
		return tx.PutDoc(rec)
	})
	if err != nil {
		p.log.Error("cannot record a finished document; it is fetched again at the next poll", "document_id", d.DocumentID, "error", err)
		return
	}
	p.mu.Lock()
	j.finished[d.DocumentID] = true
	if len(j.finished) == len(j.docs) {
		delete(p.jobs, j.id)
	}
	p.pending[key] = true
	p.mu.Unlock()
	p.FinishDoc(ctx, key)
}

func (p *Poller) failJob(ctx context.Context, id, code, msg string) {
	p.mu.Lock()
	j := p.jobs[id]
	delete(p.jobs, id)
	p.mu.Unlock()
	if j == nil {
		return
	}
	for docID, key := range j.docs {
		if j.finished[docID] {
			continue
		}
		_ = p.st.Update(func(tx *state.Tx) error {
			d, ok, err := tx.Doc(key)
			if err != nil || !ok {
				return err
			}
			d.State, d.Code, d.Message, d.Updated = state.DocFailed, code, msg, time.Now()
			return tx.PutDoc(d)
		})
		p.FinishDoc(ctx, key)
	}
}

func (p *Poller) writePending(ctx context.Context) {
	p.mu.Lock()
	keys := make([]string, 0, len(p.pending))
	for k := range p.pending {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	for _, k := range keys {
		p.FinishDoc(ctx, k)
	}
}

// FinishDoc writes the result (or error) file of every file waiting on a
// finished document, then marks each file done; "done" is recorded only
// after the rename. A failed write is retried at the next tick.
func (p *Poller) FinishDoc(_ context.Context, key string) {
	var d state.Doc
	var files []state.File
	err := p.st.View(func(tx *state.Tx) error {
		var ok bool
		var err error
		d, ok, err = tx.Doc(key)
		if err != nil || !ok {
			return err
		}
		for _, path := range d.Files {
			if f, ok, _ := tx.File(path); ok && (f.State == state.FileQueued || f.State == state.FileDuplicate) && f.SHA256 == d.SHA256 {
				files = append(files, f)
			}
		}
		return nil
	})
	if err != nil || (d.State != state.DocDone && d.State != state.DocFailed) {
		return
	}
	allOK := true
	for _, f := range files {
		src := results.Source{Path: f.Path, SHA256: f.SHA256, Size: f.Size}
		var out string
		var werr error
		if d.State == state.DocDone {
			dup := ""
			if len(d.Files) > 0 && d.Files[0] != f.Path {
				dup = d.Files[0]
			}
			out, werr = results.WriteResult(f.Path, d.Result, src, dup)
		} else {
			out, werr = results.WriteError(f.Path, d.Code, d.Message, src)
		}
		if werr != nil {
			allOK = false
			p.writeErrors.Add(1)
			p.log.Error("cannot write the result file; retrying at the next poll (nothing is lost: the result is kept in the state)", "file", f.Path, "error", werr)
			continue
		}
		f.Result, f.Updated = out, time.Now()
		if d.State == state.DocDone {
			f.State = state.FileDone
		} else {
			f.State, f.Code, f.Reason = state.FileFailed, d.Code, d.Message
		}
		if err := p.st.Update(func(tx *state.Tx) error { return tx.PutFile(f) }); err != nil {
			allOK = false
			p.log.Error("result written but not recorded; it is written again at the next poll", "file", f.Path, "error", err)
			continue
		}
		if d.State == state.DocDone {
			p.log.Info("result written", "file", f.Path, "result", out)
		} else {
			p.log.Warn("document failed; error file written", "file", f.Path, "code", d.Code, "reason", d.Message)
		}
		if p.o.OnFinished != nil {
			p.o.OnFinished(f, d.Result)
		}
		p.moveOut(f, d.State == state.DocDone)
	}
	if allOK {
		p.mu.Lock()
		delete(p.pending, key)
		p.mu.Unlock()
	}
}

func (p *Poller) moveOut(f state.File, ok bool) {
	for _, in := range p.o.Inboxes {
		if in.Path != f.Inbox || in.After != "move" {
			continue
		}
		dest := in.FailedDir
		if ok {
			dest = in.ProcessedDir
		}
		moved, err := results.Move(f.Path, in.Path, dest)
		if err != nil {
			p.log.Warn("cannot move a finished file out of the inbox; it stays where it is", "file", f.Path, "error", err)
			continue
		}
		p.log.Debug("moved", "file", f.Path, "to", moved)
		_ = p.st.Update(func(tx *state.Tx) error { return tx.DeleteFile(f.Path) })
	}
}
