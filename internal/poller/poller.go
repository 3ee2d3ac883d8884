// Package poller takes submitted documents to finished: one list call per
// tick finds every job in flight that changed, then one results call per
// changed job fetches what finished, and each finished document is handed
// to the finish stage. It never submits and never writes files.
package poller

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
)

// API is what the poller needs from the client.
type API interface {
	ListExtractions(ctx context.Context, o api.ListOptions, cursor string) (apitypes.ExtractionList, error)
	Extraction(ctx context.Context, id string) (apitypes.Extraction, error)
	Results(ctx context.Context, id string) (apitypes.Extraction, error)
	Document(ctx context.Context, extractionID, documentID string) (apitypes.Document, error)
}

// Finisher ends the lives of the files of finished documents (the finish stage).
type Finisher interface {
	// Done hands over a document the API finished (completed or failed).
	Done(ctx context.Context, key string, doc apitypes.Document) error
	// Failed fails documents that will never get a result.
	Failed(ctx context.Context, keys []string, code, msg string) error
}

// Options wires a Poller.
type Options struct {
	Store    *state.Store
	API      API
	Finisher Finisher
	Interval time.Duration
	Logger   *slog.Logger
	// NudgeBudget is how many webhook-driven reads may be made per
	// NudgeWindow (defaults: 70 % of what 150 requests less 20 submissions
	// leave, per minute).
	NudgeBudget int
	NudgeWindow time.Duration
	// ServerClock returns how far the API server's clock is ahead of ours
	// (negative: behind) and whether it is known; a list's since, taken
	// from our clock, is moved onto the server's by it.
	ServerClock func() (time.Duration, bool)
}

// Poller is the result stage.
type Poller struct {
	o   Options
	log *slog.Logger
	st  *state.Store

	mu       sync.Mutex
	jobs     map[string]*job
	lastPoll time.Time
	lastErr  string
	kick     chan struct{}
	resched  chan struct{}
	changed  chan struct{} // closed and replaced at every change of the jobs

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

type job struct {
	id        string
	docs      map[string]string // document id -> doc key
	finished  map[string]bool   // document ids written
	submitted time.Time
	updated   time.Time // server's updated_at, once seen
	seenAt    time.Time
	fetching  bool // a results read is in flight (see fetch)
	want      int  // finished documents a caller expected while it was
}

// skew is how far the server's clock may lag ours, beyond the difference
// measured from its Date header (Options.ServerClock), without a missed
// result.
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
		o.NudgeBudget = (apitypes.MaxRequestsPerWindow - apitypes.MaxSubmissionsPerWindow) * 7 / 10
	}
	return &Poller{o: o, log: o.Logger.With("component", "poller"), st: o.Store, changed: make(chan struct{}),
		jobs: map[string]*job{}, kick: make(chan struct{}, 1), resched: make(chan struct{}, 1),
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
	p.fetch(ctx, id, p.nudgeWant(j, n))
}

// nudgeWant is how many of j's documents a nudge says have finished.
func (p *Poller) nudgeWant(j *job, n *nudge) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.jobDone {
		return len(j.docs)
	}
	want := len(j.finished)
	for docID := range n.docs {
		if _, ours := j.docs[docID]; ours && !j.finished[docID] {
			want++
		}
	}
	return want
}

// Recover loads the jobs in flight from the state, reading only the open
// documents (state.Tx.OpenDocs).
func (p *Poller) Recover() error {
	defer p.jobsChanged()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.View(func(tx *state.Tx) error {
		return tx.OpenDocs(func(d state.Doc) error {
			if d.State == state.DocSubmitted {
				j := p.jobs[d.ExtractionID]
				if j == nil {
					j = &job{id: d.ExtractionID, docs: map[string]string{}, finished: map[string]bool{}, submitted: d.SubmittedAt}
					p.jobs[d.ExtractionID] = j
				}
				j.docs[d.DocumentID] = d.Key
				if d.SubmittedAt.Before(j.submitted) {
					j.submitted = d.SubmittedAt
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
	p.jobsChanged()
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

// Idle reports that no job is in flight.
func (p *Poller) Idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs) == 0
}

// Changed returns a channel closed at the next change of the jobs in
// flight (take it before calling Idle, so no change is missed).
func (p *Poller) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// jobsChanged tells watchers of Changed.
func (p *Poller) jobsChanged() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.changed)
	p.changed = make(chan struct{})
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
	var off time.Duration
	if p.o.ServerClock != nil {
		off, _ = p.o.ServerClock()
	}
	p.mu.Lock()
	since := time.Time{}
	for _, j := range p.jobs {
		// Submitted is our clock's; the server filters by its own.
		s := j.submitted.Add(off - skew)
		if !j.updated.IsZero() {
			s = j.updated.Add(-time.Second)
		}
		if since.IsZero() || s.Before(since) {
			since = s
		}
	}
	p.mu.Unlock()

	changed := map[string]int{} // job -> how many of its documents finished
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
			if terminal(e.Status) || finished < 0 {
				changed[j.id] = len(j.docs)
			} else if finished > len(j.finished) {
				changed[j.id] = finished
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
		if _, ok := changed[id]; !ok && start.Sub(last) > 20*p.o.Interval {
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
			if terminal(x.Status) || anyFinished(x.Documents) {
				changed[id] = len(j.docs)
			}
		}
		p.mu.Unlock()
	}
	p.fetchAll(ctx, changed)
}

// fetchAtOnce is how many jobs' results one poll reads and writes at once.
// Writing a job's results waits on the disk (each result file is synced),
// so a poll that finds many jobs finished (a backlog's last window: twenty
// jobs of fifty documents) would otherwise write them one job after the
// other while the disk and the API sit idle in between.
const fetchAtOnce = 4

// fetchAll fetches the jobs of changed (how many of each job's documents
// the caller knows have finished), up to fetchAtOnce at a time, oldest
// submission first, and returns once all are done.
func (p *Poller) fetchAll(ctx context.Context, changed map[string]int) {
	ids := make([]string, 0, len(changed))
	p.mu.Lock()
	for id := range changed {
		if p.jobs[id] != nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(p.jobs[a].submitted.Compare(p.jobs[b].submitted), cmp.Compare(a, b))
	})
	p.mu.Unlock()
	slots := make(chan struct{}, fetchAtOnce)
	var wg sync.WaitGroup
	for _, id := range ids {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			p.fetch(ctx, id, changed[id])
		})
	}
	wg.Wait()
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

// fetch reads a job's results and finishes every document that is done;
// want is how many of the job's documents the caller knows have finished.
// One read per job at a time: a caller that finds one in flight (the poll
// and a webhook's nudge at once) leaves its news to that read, and one more
// read follows only if, when it ends, fewer documents were handed on than
// the caller knew had finished. Without this the poll, seeing documents
// finished that a nudge's read is still handing on, read the same results
// again.
func (p *Poller) fetch(ctx context.Context, id string, want int) {
	p.mu.Lock()
	j := p.jobs[id]
	if j == nil {
		p.mu.Unlock()
		return
	}
	if j.fetching {
		j.want = max(j.want, want)
		p.mu.Unlock()
		return
	}
	j.fetching = true
	p.mu.Unlock()
	for {
		p.fetchOnce(ctx, id)
		p.mu.Lock()
		again := j.want > len(j.finished) && p.jobs[id] == j && ctx.Err() == nil
		j.want = 0
		j.fetching = again
		p.mu.Unlock()
		if !again {
			return
		}
	}
}

func (p *Poller) fetchOnce(ctx context.Context, id string) {
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
	p.batch(ctx, func(ctx context.Context) {
		var ds []apitypes.Document
		for _, d := range res.Documents {
			if !docTerminal(d.Status) {
				continue
			}
			got[d.DocumentID] = true
			ds = append(ds, d)
		}
		p.finishFromAPI(ctx, j, ds...)
	})
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

// batch runs fn so that the results it finishes are written together
// (each folder synced once) when the Finisher can (finish.Finisher.Batch).
func (p *Poller) batch(ctx context.Context, fn func(ctx context.Context)) {
	if b, ok := p.o.Finisher.(interface {
		Batch(ctx context.Context, fn func(ctx context.Context))
	}); ok {
		b.Batch(ctx, fn)
		return
	}
	fn(ctx)
}

// finishFromAPI records the finished documents ds of job j, in one state
// transaction when the Finisher can (finish.Finisher.DoneAll).
func (p *Poller) finishFromAPI(ctx context.Context, j *job, ds ...apitypes.Document) {
	var answers []finish.Answer
	var ids []string
	p.mu.Lock()
	for _, d := range ds {
		key, ok := j.docs[d.DocumentID]
		if !ok || j.finished[d.DocumentID] {
			continue
		}
		answers = append(answers, finish.Answer{Key: key, Doc: d})
		ids = append(ids, d.DocumentID)
	}
	p.mu.Unlock()
	if len(answers) == 0 {
		return
	}
	var errs []error
	if all, ok := p.o.Finisher.(interface {
		DoneAll(ctx context.Context, answers []finish.Answer) []error
	}); ok {
		errs = all.DoneAll(ctx, answers)
	} else {
		for _, a := range answers {
			errs = append(errs, p.o.Finisher.Done(ctx, a.Key, a.Doc))
		}
	}
	for i, err := range errs {
		// A document that does not match its file is not fetched again: the
		// file carries the reason, and the next start checks it once more.
		if err != nil && !errors.Is(err, finish.ErrMismatch) {
			p.log.Error("cannot record a finished document; it is fetched again at the next poll", "document_id", ids[i], "error", state.Fault(err))
			continue
		}
		p.mu.Lock()
		j.finished[ids[i]] = true
		if len(j.finished) == len(j.docs) {
			delete(p.jobs, j.id)
		}
		p.mu.Unlock()
		p.jobsChanged()
	}
}

func (p *Poller) failJob(ctx context.Context, id, code, msg string) {
	p.mu.Lock()
	j := p.jobs[id]
	delete(p.jobs, id)
	p.mu.Unlock()
	p.jobsChanged()
	if j == nil {
		return
	}
	var keys []string
	for docID, key := range j.docs {
		if !j.finished[docID] {
			keys = append(keys, key)
		}
	}
	if err := p.o.Finisher.Failed(ctx, keys, code, msg); err != nil {
		p.log.Error("cannot record the failed documents of a job the API no longer knows; they are looked for again at the next start", "extraction_id", id, "error", err)
	}
}
