package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/patience"
)

// scriptedAPI serves one job whose documents are given as JSON.
type scriptedAPI struct {
	mu        sync.Mutex
	status    string
	docs      string // JSON array of the results' documents
	resultErr error
	docReads  []string
	results   int
}

func (s *scriptedAPI) ListExtractions(context.Context, api.ListOptions, string) (apitypes.ExtractionList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l apitypes.ExtractionList
	l.Extractions = []apitypes.Extraction{{ExtractionID: "ext_1", Status: s.status}}
	return l, nil
}

func (s *scriptedAPI) Extraction(context.Context, string) (apitypes.Extraction, error) {
	return apitypes.Extraction{Status: s.status}, nil
}

func (s *scriptedAPI) Results(_ context.Context, id string) (apitypes.Extraction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results++
	if s.resultErr != nil {
		return apitypes.Extraction{}, s.resultErr
	}
	var x apitypes.Extraction
	err := json.Unmarshal([]byte(fmt.Sprintf(`{"extraction_id":%q,"status":%q,"documents":%s}`, id, s.status, s.docs)), &x)
	return x, err
}

func (s *scriptedAPI) Document(_ context.Context, _, doc string) (apitypes.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docReads = append(s.docReads, doc)
	var d apitypes.Document
	err := json.Unmarshal([]byte(`{"document_id":"`+doc+`","filename":"`+doc+`.pdf","status":"completed"}`), &d)
	return d, err
}

// recorder is a Finisher that records what it is handed.
type recorder struct {
	mu     sync.Mutex
	done   map[string]string // key -> document id
	failed map[string]string // key -> code
	errFor map[string]error  // key -> error Done returns
}

func (r *recorder) Done(_ context.Context, key string, d apitypes.Document) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.errFor[key]; err != nil {
		return err
	}
	r.done[key] = d.DocumentID
	return nil
}

func (r *recorder) Failed(_ context.Context, keys []string, code, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.failed[k] = code
	}
	return nil
}

func newPoller(a API) (*Poller, *recorder) {
	r := &recorder{done: map[string]string{}, failed: map[string]string{}, errFor: map[string]error{}}
	p := New(Options{API: a, Finisher: r, Interval: time.Second})
	p.Track("ext_1", map[string]string{"d1": "k1", "d2": "k2", "d3": "k3"})
	return p, r
}

func TestPollHandsOnlyFinishedDocuments(t *testing.T) {
	a := &scriptedAPI{status: apitypes.StatusProcessing, docs: `[
		{"document_id":"d1","filename":"d1.pdf","status":"completed"},
		{"document_id":"d2","filename":"d2.pdf","status":"failed"},
		{"document_id":"d3","filename":"d3.pdf","status":"processing"}]`}
	p, r := newPoller(a)
	p.poll(context.Background())
	if len(r.done) != 2 || r.done["k1"] != "d1" || r.done["k2"] != "d2" {
		t.Errorf("handed %v, want d1 and d2", r.done)
	}
	if p.Idle() {
		t.Error("idle with a document still processing")
	}
	// The rest finishes: only it is handed on, and the job is done.
	a.mu.Lock()
	a.status = apitypes.StatusCompleted
	a.docs = `[{"document_id":"d3","filename":"d3.pdf","status":"completed"},{"document_id":"d1","filename":"d1.pdf","status":"completed"}]`
	a.mu.Unlock()
	r.done = map[string]string{}
	p.poll(context.Background())
	if len(r.done) != 1 || r.done["k3"] != "d3" {
		t.Errorf("handed %v, want only d3", r.done)
	}
	if !p.Idle() {
		t.Error("not idle after every document finished")
	}
}

// A finished job whose results leave a document out: that document is read
// on its own.
func TestFinishedJobMissingADocumentIsAskedFor(t *testing.T) {
	a := &scriptedAPI{status: apitypes.StatusCompleted, docs: `[
		{"document_id":"d1","filename":"d1.pdf","status":"completed"},
		{"document_id":"d2","filename":"d2.pdf","status":"completed"}]`}
	p, r := newPoller(a)
	p.poll(context.Background())
	if len(a.docReads) != 1 || a.docReads[0] != "d3" || r.done["k3"] != "d3" {
		t.Errorf("document reads %v, handed %v", a.docReads, r.done)
	}
}

func TestUnknownJobFailsItsDocuments(t *testing.T) {
	a := &scriptedAPI{status: apitypes.StatusCompleted, resultErr: &api.Error{StatusCode: http.StatusNotFound, Code: apitypes.CodeResourceNotFound}}
	p, r := newPoller(a)
	p.poll(context.Background())
	if len(r.failed) != 3 || r.failed["k1"] != "RESOURCE_NOT_FOUND" {
		t.Errorf("failed %v", r.failed)
	}
	if !p.Idle() {
		t.Error("a forgotten job is still polled")
	}
}

// A document finish refuses as a mismatch is not fetched again; one it
// could not record is.
func TestMismatchIsNotRefetchedARecordErrorIs(t *testing.T) {
	a := &scriptedAPI{status: apitypes.StatusCompleted, docs: `[
		{"document_id":"d1","filename":"d1.pdf","status":"completed"},
		{"document_id":"d2","filename":"d2.pdf","status":"completed"},
		{"document_id":"d3","filename":"d3.pdf","status":"completed"}]`}
	p, r := newPoller(a)
	r.errFor["k1"] = fmt.Errorf("document d1: %w", finish.ErrMismatch)
	r.errFor["k2"] = errors.New("disk full")
	p.poll(context.Background())
	if p.Idle() {
		t.Fatal("idle although d2 could not be recorded")
	}
	r.mu.Lock()
	delete(r.errFor, "k2")
	r.mu.Unlock()
	p.poll(context.Background())
	if _, ok := r.done["k1"]; ok || r.done["k2"] != "d2" || !p.Idle() {
		t.Errorf("handed %v, idle %v: want d2 recorded at the second poll, d1 left alone", r.done, p.Idle())
	}
}

func TestNextWaitPollsFreshJobsEarly(t *testing.T) {
	p := New(Options{Interval: 10 * time.Second, Finisher: &recorder{}})
	if w := p.nextWait(); w != 10*time.Second {
		t.Errorf("no jobs: wait %v, want the interval", w)
	}
	p.Track("ext_1", map[string]string{"d": "k"})
	if w := p.nextWait(); w > 500*time.Millisecond || w < 50*time.Millisecond {
		t.Errorf("fresh job: wait %v, want the first early poll", w)
	}
	p.mu.Lock()
	p.jobs["ext_1"].submitted = time.Now().Add(-time.Minute)
	p.mu.Unlock()
	if w := p.nextWait(); w != 10*time.Second {
		t.Errorf("old job: wait %v, want the interval", w)
	}
}

// A status the docs do not name (a new one, or a proxy's) is "not finished
// yet": nothing is handed on and the job stays tracked.
func TestUnknownStatusIsNotFinished(t *testing.T) {
	a := &scriptedAPI{status: "on_hold", docs: `[
		{"document_id":"d1","filename":"d1.pdf","status":"on_hold"},
		{"document_id":"d2","filename":"d2.pdf","status":"queued"},
		{"document_id":"d3","filename":"d3.pdf","status":"archived"}]`}
	p, r := newPoller(a)
	p.poll(context.Background())
	if len(r.done) != 0 || len(r.failed) != 0 {
		t.Errorf("handed %v, failed %v; want nothing while the status is unknown", r.done, r.failed)
	}
	if p.Idle() {
		t.Error("idle with a job in an unknown status")
	}
}

// gatedAPI holds every results read until the test lets it go, and tells
// when the first one has begun.
type gatedAPI struct {
	*scriptedAPI
	first   sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedAPI) Results(ctx context.Context, id string) (apitypes.Extraction, error) {
	x, err := g.scriptedAPI.Results(ctx, id) // the answer as it stands when asked
	g.first.Do(func() { close(g.entered) })
	<-g.release
	return x, err
}

// The poll and a webhook's nudge at once read a job's results once, not
// twice; a read that ends with fewer documents than the other caller knew
// had finished is followed by one more.
func TestOneResultsReadPerJobAtATime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		firstDocs string // what the first read answers
		reads     int
	}{
		{"the first read has everything", `[
			{"document_id":"d1","filename":"d1.pdf","status":"completed"},
			{"document_id":"d2","filename":"d2.pdf","status":"completed"},
			{"document_id":"d3","filename":"d3.pdf","status":"completed"}]`, 1},
		{"the first read misses one", `[
			{"document_id":"d1","filename":"d1.pdf","status":"completed"},
			{"document_id":"d2","filename":"d2.pdf","status":"completed"},
			{"document_id":"d3","filename":"d3.pdf","status":"processing"}]`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptedAPI{status: apitypes.StatusProcessing, docs: tc.firstDocs}
			g := &gatedAPI{scriptedAPI: s, entered: make(chan struct{}), release: make(chan struct{})}
			p, r := newPoller(g)
			done := make(chan struct{})
			go func() { // a nudge: the whole job finished
				defer close(done)
				p.fetch(context.Background(), "ext_1", 3)
			}()
			<-g.entered
			// The poll meanwhile: the list shows the job with no summary.
			polled := make(chan struct{})
			go func() {
				defer close(polled)
				p.poll(context.Background())
			}()
			// The poll has either left its read to the one in flight or
			// begun a second (which the gate holds): either way it is done
			// listing once it reads the results or returns.
			if !patience.Wait(5*time.Second, time.Millisecond, func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				select {
				case <-polled:
					return true
				default:
					return s.results > 1
				}
			}) {
				t.Fatal("the poll neither returned nor read the results")
			}
			s.mu.Lock()
			s.docs = `[{"document_id":"d3","filename":"d3.pdf","status":"completed"}]`
			s.mu.Unlock()
			close(g.release) // let every read through
			<-done
			<-polled
			s.mu.Lock()
			reads := s.results
			s.mu.Unlock()
			if reads != tc.reads {
				t.Errorf("%d results reads, want %d", reads, tc.reads)
			}
			if len(r.done) != 3 || !p.Idle() {
				t.Errorf("handed %v, idle %v: want all three", r.done, p.Idle())
			}
		})
	}
}

// multiAPI lists jobs ext_0.. as completed, each with one completed
// document, and holds every results read until fetchAtOnce reads are in
// flight together (or a while has passed), noting the most at once and the
// order the reads began in.
type multiAPI struct {
	jobs int

	mu       sync.Mutex
	inFlight int
	most     int
	began    []string
	full     chan struct{}
	fullOnce sync.Once
}

func (m *multiAPI) ListExtractions(context.Context, api.ListOptions, string) (apitypes.ExtractionList, error) {
	var l apitypes.ExtractionList
	for i := range m.jobs {
		l.Extractions = append(l.Extractions, apitypes.Extraction{ExtractionID: fmt.Sprintf("ext_%d", i), Status: apitypes.StatusCompleted})
	}
	return l, nil
}

func (m *multiAPI) Extraction(context.Context, string) (apitypes.Extraction, error) {
	return apitypes.Extraction{Status: apitypes.StatusCompleted}, nil
}

func (m *multiAPI) Results(_ context.Context, id string) (apitypes.Extraction, error) {
	m.mu.Lock()
	m.inFlight++
	m.most = max(m.most, m.inFlight)
	m.began = append(m.began, id)
	if m.inFlight == fetchAtOnce {
		m.fullOnce.Do(func() { close(m.full) })
	}
	m.mu.Unlock()
	select {
	case <-m.full:
	case <-time.After(patience.Scale(2 * time.Second)):
	}
	m.mu.Lock()
	m.inFlight--
	m.mu.Unlock()
	doc := "d" + id[len("ext_"):]
	var x apitypes.Extraction
	err := json.Unmarshal([]byte(`{"extraction_id":"`+id+`","status":"completed","documents":[{"document_id":"`+doc+`","filename":"`+doc+`.pdf","status":"completed"}]}`), &x)
	return x, err
}

func (m *multiAPI) Document(context.Context, string, string) (apitypes.Document, error) {
	return apitypes.Document{}, errors.New("not asked for")
}

// A poll that finds many jobs finished reads and hands on their results
// fetchAtOnce jobs at a time, the oldest submissions first, not one job
// after the other; every document is handed on once.
func TestPollFetchesFinishedJobsSideBySide(t *testing.T) {
	const jobs = 7
	m := &multiAPI{jobs: jobs, full: make(chan struct{})}
	r := &recorder{done: map[string]string{}, failed: map[string]string{}, errFor: map[string]error{}}
	p := New(Options{API: m, Finisher: r, Interval: time.Second})
	// Tracked newest first: the reads must begin with the oldest anyway.
	for i := jobs - 1; i >= 0; i-- {
		p.Track(fmt.Sprintf("ext_%d", i), map[string]string{fmt.Sprintf("d%d", i): fmt.Sprintf("k%d", i)})
		p.mu.Lock()
		p.jobs[fmt.Sprintf("ext_%d", i)].submitted = time.Unix(1_700_000_000+int64(i), 0)
		p.mu.Unlock()
	}
	p.poll(context.Background())
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.most != fetchAtOnce {
		t.Errorf("at most %d results reads at once, want %d", m.most, fetchAtOnce)
	}
	for i, id := range m.began[:fetchAtOnce] {
		if want := fmt.Sprintf("ext_%d", i); !slices.Contains(m.began[:fetchAtOnce], want) {
			t.Errorf("the first %d reads were %v: %s (one of the oldest) is not among them (read %d: %s)", fetchAtOnce, m.began[:fetchAtOnce], want, i, id)
		}
	}
	if len(r.done) != jobs {
		t.Errorf("handed on %d documents, want %d: %v", len(r.done), jobs, r.done)
	}
	if !p.Idle() {
		t.Error("not idle after every job finished")
	}
}
