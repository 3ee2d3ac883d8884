package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/poller"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webhook"
)

// hookState is the running webhook receiver and its registration.
type hookState struct {
	cfg    config.Webhook
	recv   *webhook.Receiver
	client *api.Client
	srv    *http.Server
	addr   string

	mu       sync.Mutex
	reg      webhook.Registration
	err      string
	lastTest string
}

// startWebhook starts the receiver and registers the subscription (see
// register): before it returns when wait is set (a --once run, whose jobs
// may finish within seconds), else in the background, so that an API that
// cannot be reached at boot does not hold the daemon's other stages up. A
// registration failure falls back to polling.
func startWebhook(ctx context.Context, g *errgroup.Group, cfg *config.Config, client *api.Client, st *state.Store, pol *poller.Poller, log *slog.Logger, wait bool) (*hookState, error) {
	wc := cfg.Webhook
	u, _ := url.Parse(wc.PublicURL)
	recv := webhook.NewReceiver(webhook.ReceiverOptions{Path: u.Path, Static: wc.Secret, MaxBody: wc.MaxBody.Bytes, Logger: log})
	ln, err := net.Listen("tcp", wc.Listen)
	if err != nil {
		return nil, fmt.Errorf("%s: webhook.listen %s: %w (pick a free port)", cfg.File, wc.Listen, err)
	}
	h := &hookState{cfg: wc, recv: recv, client: client, addr: ln.Addr().String(),
		srv: &http.Server{Handler: recv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}}
	g.Go(func() error {
		var err error
		if wc.TLSCert != "" {
			err = h.srv.ServeTLS(ln, wc.TLSCert, wc.TLSKey)
		} else {
			err = h.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("webhook receiver stopped", "error", err)
		}
		return nil
	})
	g.Go(func() error { shutdownAt(ctx, h.srv); return nil })
	log.Info("webhook receiver listening", "listen", h.addr, "public_url", wc.PublicURL, "tls", wc.TLSCert != "")

	if wait {
		h.register(ctx, g, cfg, st, pol, log)
	} else {
		g.Go(func() error { h.register(ctx, g, cfg, st, pol, log); return nil })
	}
	return h, nil
}

// register registers the subscription (or reuses the stored one); once it
// is, polling slows down to the safety net and a test delivery is checked
// in the background. A failure leaves polling as it is.
func (h *hookState) register(ctx context.Context, g *errgroup.Group, cfg *config.Config, st *state.Store, pol *poller.Poller, log *slog.Logger) {
	wc, recv := cfg.Webhook, h.recv
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	reg, err := webhook.Ensure(rctx, h.client, st, wc.PublicURL, wc.Events, wc.Secret, log)
	cancel()
	if err != nil {
		h.mu.Lock()
		h.err = err.Error()
		h.mu.Unlock()
		if ctx.Err() == nil {
			log.Error("webhook not registered; results are found by polling instead", "error", err, "poll_interval", cfg.Poll.Interval.Duration)
		}
		return
	}
	h.mu.Lock()
	h.reg = reg
	h.mu.Unlock()
	recv.SetSecret(reg.SigningSecret)
	pol.SetInterval(wc.PollInterval.Duration)
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-recv.Events():
				pol.Nudge(ev.ExtractionID, ev.DocumentID, ev.Event == apitypes.EventJobCompleted)
			}
		}
	})
	g.Go(func() error { pol.RunNudges(ctx, 100*time.Millisecond); return nil })
	g.Go(func() error {
		msg, err := h.test(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			log.Warn("webhook test delivery failed; polling every "+wc.PollInterval.String()+" still finds every result", "error", err)
		default:
			log.Info(msg)
		}
		return nil
	})
}

// test asks for a test delivery and waits for it at the receiver.
func (h *hookState) test(ctx context.Context) (string, error) {
	h.mu.Lock()
	id, why := h.reg.WebhookID, h.err
	h.mu.Unlock()
	if id == "" {
		if why == "" {
			why = "its registration has not finished yet (the API may be unreachable); try again in a minute"
		}
		return "", fmt.Errorf("the webhook is not registered: %s", why)
	}
	err := webhook.SendTest(ctx, h.client, id, h.recv, 15*time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.lastTest = "failed: " + err.Error()
		return "", err
	}
	h.lastTest = "arrived and verified at " + time.Now().Format(time.RFC3339)
	return "webhook test delivery arrived and verified", nil
}

func (h *hookState) report() *report.Webhook {
	v, r, d := h.recv.Counts()
	h.mu.Lock()
	defer h.mu.Unlock()
	return &report.Webhook{WebhookID: h.reg.WebhookID, URL: h.cfg.PublicURL, Listen: h.addr, Verified: v, Rejected: r,
		Dropped: d, LastTest: h.lastTest, Error: h.err}
}

// removeStaleWebhook deletes a subscription left from when webhooks were
// on, so the API stops calling a receiver that no longer listens.
func removeStaleWebhook(ctx context.Context, client *api.Client, st *state.Store, log *slog.Logger) {
	reg, ok, err := webhook.Load(st)
	if err != nil || !ok {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if id, err := webhook.Remove(rctx, client, st); err != nil {
		log.Warn("webhooks are off but the old subscription could not be deleted; run 'ppsync webhook remove'", "webhook_id", reg.WebhookID, "error", err)
	} else {
		log.Info("webhooks are off: deleted the subscription", "webhook_id", id)
	}
}

// shutdownAt shuts srv down once ctx ends, giving requests two seconds.
func shutdownAt(ctx context.Context, srv *http.Server) {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
