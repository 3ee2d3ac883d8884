// Package logonce keeps a repeated error from flooding the log: a warning
// or error carrying an "error" attribute is written the first time; the
// same message with the same error again within the window is counted, not
// written, and the first one after the window is written with how many
// were held back.
package logonce

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler wraps another slog.Handler.
type Handler struct {
	next   slog.Handler
	shared *shared
}

type shared struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*entry
}

type entry struct {
	last       time.Time // when it was last written
	suppressed int
}

// New wraps next; window is how long a repeat is held back (a minute in the daemon).
func New(next slog.Handler, window time.Duration) *Handler {
	return &Handler{next: next, shared: &shared{window: window, now: time.Now, seen: map[string]*entry{}}}
}

// Enabled reports what next reports.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle writes r unless it repeats a recent one.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var errText string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			errText = a.Value.String()
			return false
		}
		return true
	})
	if errText == "" {
		return h.next.Handle(ctx, r)
	}
	key := r.Level.String() + "\x00" + r.Message + "\x00" + errText
	s := h.shared
	now := s.now()
	s.mu.Lock()
	e, ok := s.seen[key]
	if ok && now.Sub(e.last) < s.window {
		e.suppressed++
		s.mu.Unlock()
		return nil
	}
	held := 0
	if ok {
		held = e.suppressed
	} else {
		e = &entry{}
		s.seen[key] = e
	}
	e.last, e.suppressed = now, 0
	for k, old := range s.seen { // forget what stopped repeating
		if now.Sub(old.last) > 10*s.window {
			delete(s.seen, k)
		}
	}
	s.mu.Unlock()
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", held), slog.Duration("within", s.window))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler sharing this one's memory.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), shared: h.shared}
}

// WithGroup returns a Handler sharing this one's memory.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), shared: h.shared}
}
