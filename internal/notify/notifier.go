package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppsync/ppsync/internal/config"
)

// Source is what the notifier reads from the running daemon.
type Source interface {
	// Health is the state of the inboxes, the API and the credits now.
	Health() Health
	// FailedBetween lists the files that ended without a result in
	// [from, to), at most limit of them, and how many there were in all.
	FailedBetween(from, to time.Time, limit int) ([]Failure, int, error)
}

// Configured is one [[notify]] with its parsed target.
type Configured struct {
	Config config.Notify
	Target *Target
}

// Options configures a Notifier.
type Options struct {
	Targets []Configured
	Source  Source
	Logger  *slog.Logger
	// Host names this machine in every message.
	Host string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Check is how often health is read (default 15 s).
	Check time.Duration
	// Backoff is the first wait before a retry; it doubles up to 5 minutes
	// (default 5 s).
	Backoff time.Duration
	// Attempts is how often a message is tried before it is given up
	// (default 6).
	Attempts int
	// Queue is each target's queue length (default 32); a message that
	// finds it full is dropped and counted.
	Queue int
	// Started is when the daemon started (digest counts before it are
	// unknown).
	Started time.Time
}

// Notifier runs the targets. Its methods called by the pipeline (Failed,
// Finished, Restarted) never block.
type Notifier struct {
	o       Options
	runners []*runner

	mu       sync.Mutex
	failures []Failure
	moreFail int
	restart  string
	days     map[string]*dayCount

	sent, retries, gaveUp, dropped *prometheus.CounterVec
	queued                         *prometheus.GaugeVec
}

type dayCount struct{ docs, pages int }

// runner is one target: its alerts, quiet hours and digest, its queue and
// its sending goroutine.
type runner struct {
	c          Configured
	al         *alerts
	queue      chan Message
	held       []Message
	nextDigest time.Time
}

// maxFailuresBuffered bounds the failures kept between two checks.
const maxFailuresBuffered = 1000

// New makes a notifier; Run starts it.
func New(o Options) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Check <= 0 {
		o.Check = 15 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.Queue <= 0 {
		o.Queue = 32
	}
	if o.Started.IsZero() {
		o.Started = o.Now()
	}
	n := &Notifier{o: o, days: map[string]*dayCount{},
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppsync_notify_sent_total",
			Help: "Notifications delivered, by target and event."}, []string{"target", "event"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppsync_notify_retries_total",
			Help: "Notification attempts that failed and were retried, by target."}, []string{"target"}),
		gaveUp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppsync_notify_failed_total",
			Help: "Notifications given up after every retry, by target."}, []string{"target"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ppsync_notify_dropped_total",
			Help: "Notifications dropped because the target's queue was full, by target."}, []string{"target"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ppsync_notify_queue_length",
			Help: "Notifications waiting to be sent, by target."}, []string{"target"}),
	}
	now := o.Now()
	for _, c := range o.Targets {
		r := &runner{c: c, al: newAlerts(c.Config), queue: make(chan Message, o.Queue)}
		if c.Config.Wants(config.EventDigest) {
			r.nextDigest = nextClock(now, c.Config.DigestMinute)
		}
		n.runners = append(n.runners, r)
		// Every series exists from the start, so rate() sees the first one.
		n.retries.WithLabelValues(c.Config.Name)
		n.gaveUp.WithLabelValues(c.Config.Name)
		n.dropped.WithLabelValues(c.Config.Name)
		n.queued.WithLabelValues(c.Config.Name)
	}
	return n
}

// Describe implements prometheus.Collector.
func (n *Notifier) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range []prometheus.Collector{n.sent, n.retries, n.gaveUp, n.dropped, n.queued} {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (n *Notifier) Collect(ch chan<- prometheus.Metric) {
	for _, r := range n.runners {
		n.queued.WithLabelValues(r.c.Config.Name).Set(float64(len(r.queue)))
	}
	for _, c := range []prometheus.Collector{n.sent, n.retries, n.gaveUp, n.dropped, n.queued} {
		c.Collect(ch)
	}
}

// Failed notes a file that ended without a result.
func (n *Notifier) Failed(f Failure) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.failures) < maxFailuresBuffered {
		n.failures = append(n.failures, f)
	} else {
		n.moreFail++
	}
}

// Finished counts a document processed at at, for the digest.
func (n *Notifier) Finished(at time.Time, pages int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := at.Format(time.DateOnly)
	d := n.days[k]
	if d == nil {
		d = &dayCount{}
		n.days[k] = d
		for old := range n.days {
			if old < at.AddDate(0, 0, -3).Format(time.DateOnly) {
				delete(n.days, old)
			}
		}
	}
	d.docs++
	d.pages += pages
}

// Restarted tells the targets that the daemon started after a run that did
// not end cleanly.
func (n *Notifier) Restarted(detail string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.restart = detail
}

// Run checks and sends until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range n.runners {
		wg.Go(func() { n.send(ctx, r) })
	}
	t := time.NewTicker(n.o.Check)
	defer t.Stop()
	for {
		n.check()
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
	}
}

// check reads health, gathers what is due for each target and queues it.
func (n *Notifier) check() {
	now := n.o.Now()
	h := n.o.Source.Health()
	n.mu.Lock()
	fs, more, restart := n.failures, n.moreFail, n.restart
	n.failures, n.moreFail, n.restart = nil, 0, ""
	n.mu.Unlock()
	for _, r := range n.runners {
		var due []Message
		if restart != "" && r.c.Config.Wants(config.EventRestart) {
			due = append(due, Message{Event: config.EventRestart, Status: StatusInfo,
				Title: "ppsync restarted after an unclean stop", Body: restart, At: now})
		}
		due = append(due, r.al.observe(now, h)...)
		r.al.failed(fs, more)
		if m, ok := r.al.failures(now); ok {
			due = append(due, m)
		}
		if !r.nextDigest.IsZero() && !now.Before(r.nextDigest) {
			due = append(due, n.digest(now, h))
			r.nextDigest = nextClock(now, r.c.Config.DigestMinute)
		}
		n.deliver(r, now, due)
	}
}

// deliver queues due (held during quiet hours; what was held goes out as
// one message when they end).
func (n *Notifier) deliver(r *runner, now time.Time, due []Message) {
	if r.c.Config.Quiet && inQuiet(now, r.c.Config.QuietFrom, r.c.Config.QuietTo) {
		r.held = append(r.held, due...)
		return
	}
	if len(r.held) > 0 {
		due = append([]Message{heldMessage(r.held, now)}, due...)
		r.held = nil
	}
	for _, m := range due {
		m.Host = n.o.Host
		select {
		case r.queue <- m:
		default:
			n.dropped.WithLabelValues(r.c.Config.Name).Inc()
			n.o.Logger.Warn("notification dropped: the target's queue is full (it has not answered for a while)",
				"target", r.c.Config.Name, "title", m.Title)
		}
	}
}

func heldMessage(held []Message, now time.Time) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "%d notifications were held during quiet hours:\n", len(held))
	var files []string
	for _, m := range held {
		fmt.Fprintf(&b, "\n== %s (%s)\n%s\n", m.Subject(), m.At.Format("15:04"), m.Body)
		files = append(files, m.Files...)
	}
	return Message{Event: "held", Status: StatusInfo, Title: fmt.Sprintf("%d notifications from quiet hours", len(held)),
		Body: b.String(), Files: files, At: now}
}

// send delivers r's queue, retrying each message with back-off.
func (n *Notifier) send(ctx context.Context, r *runner) {
	name := r.c.Config.Name
	for {
		var m Message
		select {
		case <-ctx.Done():
			return
		case m = <-r.queue:
		}
		wait := n.o.Backoff
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			err := r.c.Target.Sender.Send(actx, m)
			cancel()
			if err == nil {
				n.sent.WithLabelValues(name, m.Event).Inc()
				n.o.Logger.Info("notification sent", "target", name, "title", m.Title)
				break
			}
			if ctx.Err() != nil {
				return
			}
			msg := r.c.Target.Mask(err.Error())
			if attempt >= n.o.Attempts {
				n.gaveUp.WithLabelValues(name).Inc()
				n.o.Logger.Error("notification not sent: giving up after every retry; run 'ppsync notify test' to check the target",
					"target", name, "where", r.c.Target.Where, "title", m.Title, "attempts", attempt, "error", msg)
				break
			}
			n.retries.WithLabelValues(name).Inc()
			n.o.Logger.Warn("notification not sent; retrying", "target", name, "where", r.c.Target.Where,
				"attempt", attempt, "retry_in", wait, "error", msg)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, 5*time.Minute)
		}
	}
}

// inQuiet reports whether now's local time of day is in [from, to).
func inQuiet(now time.Time, from, to int) bool {
	m := now.Hour()*60 + now.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// nextClock is the next local time after now at minute of the day.
func nextClock(now time.Time, minute int) time.Time {
	y, mo, d := now.Date()
	t := time.Date(y, mo, d, minute/60, minute%60, 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(y, mo, d+1, minute/60, minute%60, 0, 0, now.Location())
	}
	return t
}
