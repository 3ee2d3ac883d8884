// Package webhook is ppsync's side of PerfectParser webhooks: the receiver
// that verifies deliveries on the raw body in constant time and hands
// their job and document ids on, and the registration of the subscription.
// A delivery is only a hint: results are always fetched from the API.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// Event is a verified delivery's news.
type Event struct {
	EventID      string
	Event        string
	ExtractionID string
	DocumentID   string
	Test         bool
}

// Receiver is the HTTP handler for deliveries. It answers as soon as a
// delivery is verified and passes the event on without blocking.
type Receiver struct {
	path    string
	static  string
	maxBody int64
	log     *slog.Logger
	out     chan Event

	mu     sync.RWMutex
	secret []byte // signing secret; nil until registered

	seenMu sync.Mutex
	seen   map[string]time.Time // event ids, for duplicate deliveries

	verified, rejected, dropped atomic.Int64
	tests                       chan Event

	rej rejectLog
}

// rejectLog turns a flood of rejected deliveries (a scanner, a replay, a
// wrong secret) into a line for the first one, then one summary line per
// period while they go on.
type rejectLog struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	pending map[string]int // reason → rejections since the last line
	remote  string         // the last one's sender
	timer   *time.Timer    // nil while no rejection is being summarised
}

func (l *rejectLog) add(reason, remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer == nil {
		l.log.Warn("webhook delivery rejected; more rejections are summarised", "reason", reason, "remote", remote, "every", l.every)
		l.timer = time.AfterFunc(l.every, l.flush)
		return
	}
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	l.pending[reason]++
	l.remote = remote
}

// flush writes the summary of the period that ended, and keeps
// summarising while rejections arrive.
func (l *rejectLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		l.timer = nil
		return
	}
	n := 0
	reasons := make([]string, 0, len(l.pending))
	for why, c := range l.pending {
		n += c
		reasons = append(reasons, fmt.Sprintf("%s: %d", why, c))
	}
	slices.Sort(reasons)
	l.log.Warn("webhook deliveries rejected", "count", n, "period", l.every, "reasons", strings.Join(reasons, "; "), "last_remote", l.remote)
	l.pending = nil
	l.timer = time.AfterFunc(l.every, l.flush)
}

// ReceiverOptions configures a Receiver.
type ReceiverOptions struct {
	// Path served (from public_url); "" serves every path.
	Path string
	// Static is the optional X-Webhook-Secret value.
	Static  string
	MaxBody int64
	Logger  *slog.Logger
	// Buffer is how many events wait for processing before new ones are
	// dropped (polling still finds their results) [4096].
	Buffer int
	// RejectSummary is how often rejected deliveries are summarised in
	// the log after the first one's line [1m].
	RejectSummary time.Duration
}

// NewReceiver builds a receiver; Events delivers what it verified.
func NewReceiver(o ReceiverOptions) *Receiver {
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RejectSummary <= 0 {
		o.RejectSummary = time.Minute
	}
	log := o.Logger.With("component", "webhook")
	return &Receiver{path: o.Path, static: o.Static, maxBody: o.MaxBody, log: log,
		out: make(chan Event, o.Buffer), seen: map[string]time.Time{}, tests: make(chan Event, 16),
		rej: rejectLog{log: log, every: o.RejectSummary}}
}

// SetSecret installs the signing secret returned when the webhook was created.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = []byte(s)
}

// Events returns verified, non-test, first-seen events.
func (r *Receiver) Events() <-chan Event { return r.out }

// Tests returns verified test deliveries.
func (r *Receiver) Tests() <-chan Event { return r.tests }

// Counts returns verified, rejected and dropped deliveries.
func (r *Receiver) Counts() (verified, rejected, dropped int64) {
	return r.verified.Load(), r.rejected.Load(), r.dropped.Load()
}

// Verify checks a signature header against body with secret, in constant
// time. The header is lowercase hex HMAC-SHA256, optionally "sha256="-prefixed.
func Verify(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	h := strings.TrimSpace(header)
	if len(h) > 7 && strings.EqualFold(h[:7], "sha256=") {
		h = h[7:]
	}
	got, err := hex.DecodeString(h)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.path != "" && r.path != "/" && req.URL.Path != r.path {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			r.reject(w, http.StatusRequestEntityTooLarge, "body over the size limit", req)
			return
		}
		r.reject(w, http.StatusBadRequest, "cannot read body", req)
		return
	}
	r.mu.RLock()
	secret := r.secret
	r.mu.RUnlock()
	if !Verify(secret, body, req.Header.Get(apitypes.HeaderSignature)) {
		r.reject(w, http.StatusUnauthorized, "missing or invalid X-PerfectParser-Signature", req)
		return
	}
	if r.static != "" && subtle.ConstantTimeCompare([]byte(req.Header.Get(apitypes.HeaderWebhookSecret)), []byte(r.static)) != 1 {
		r.reject(w, http.StatusUnauthorized, "missing or wrong X-Webhook-Secret", req)
		return
	}
	ev, err := parse(body)
	if err != nil {
		// Signed but unreadable: acknowledge so the API does not retry it
		// forever; polling finds the result.
		r.log.Warn("signed webhook delivery with an unreadable body; ignored", "error", err)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	r.verified.Add(1)
	w.WriteHeader(http.StatusAccepted)
	if ev.Test {
		select {
		case r.tests <- ev:
		default:
		}
		return
	}
	if r.duplicate(ev.EventID) {
		return
	}
	select {
	case r.out <- ev:
	default:
		r.dropped.Add(1) // the safety-net poll picks the result up
	}
}

func (r *Receiver) reject(w http.ResponseWriter, status int, why string, req *http.Request) {
	r.rejected.Add(1)
	r.rej.add(why, req.RemoteAddr)
	http.Error(w, why, status)
}

// duplicate remembers event ids for an hour.
func (r *Receiver) duplicate(id string) bool {
	if id == "" {
		return false
	}
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	now := time.Now()
	if _, ok := r.seen[id]; ok {
		return true
	}
	r.seen[id] = now
	if len(r.seen) > 100000 {
		for k, t := range r.seen {
			if now.Sub(t) > time.Hour {
				delete(r.seen, k)
			}
		}
	}
	return false
}

// parse reads a payload, accepting the ids at the top level or under "data".
func parse(body []byte) (Event, error) {
	var p struct {
		EventID      string `json:"event_id"`
		ID           string `json:"id"`
		Event        string `json:"event"`
		Type         string `json:"type"`
		ExtractionID string `json:"extraction_id"`
		DocumentID   string `json:"document_id"`
		Test         bool   `json:"test"`
		Data         *struct {
			ExtractionID string `json:"extraction_id"`
			DocumentID   string `json:"document_id"`
			Test         bool   `json:"test"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, err
	}
	ev := Event{EventID: p.EventID, Event: p.Event, ExtractionID: p.ExtractionID, DocumentID: p.DocumentID, Test: p.Test}
	if ev.EventID == "" {
		ev.EventID = p.ID
	}
	if ev.Event == "" {
		ev.Event = p.Type
	}
	if d := p.Data; d != nil {
		if ev.ExtractionID == "" {
			ev.ExtractionID = d.ExtractionID
		}
		if ev.DocumentID == "" {
			ev.DocumentID = d.DocumentID
		}
		ev.Test = ev.Test || d.Test
	}
	if ev.ExtractionID == "" && !ev.Test {
		return ev, errors.New("no extraction_id")
	}
	return ev, nil
}
