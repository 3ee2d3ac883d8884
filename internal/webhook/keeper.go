package webhook

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

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// Poller is what the keeper drives in the poller: a registered webhook
// slows polling down to the safety net, and each verified delivery nudges
// the poller to fetch its job now.
type Poller interface {
	SetInterval(d time.Duration)
	Nudge(extractionID, documentID string, jobDone bool)
	RunNudges(ctx context.Context, tick time.Duration)
}

// KeeperOptions configures a Keeper.
type KeeperOptions struct {
	// Enabled runs the receiver and keeps the subscription; without it a
	// subscription left from when webhooks were on is deleted.
	Enabled bool
	// PublicURL is where the API delivers (its path is the receiver's);
	// Listen the local address; TLSCert and TLSKey serve HTTPS when set.
	PublicURL, Listen, TLSCert, TLSKey string
	// Secret is a static signing secret (else the registration's).
	Secret  string
	Events  []string
	MaxBody int64
	// PollInterval is how often the poller still looks once the webhook
	// is registered (the safety net); Polling is the interval it keeps
	// when the registration fails (for the log).
	PollInterval, Polling time.Duration
	// TestWait is how long Test waits for the test delivery to arrive
	// (default 15 s).
	TestWait time.Duration
	// Wait registers before Recover returns (a --once run, whose jobs may
	// finish within seconds), else Run registers in the background, so an
	// API that cannot be reached at boot holds nothing up.
	Wait   bool
	Client Client
	Store  *state.Store
	Poller Poller
	Log    *slog.Logger
}

// Status is the receiver's and the registration's state, for the status
// report.
type Status struct {
	WebhookID, URL, Listen      string
	Verified, Rejected, Dropped int64
	LastTest, Error             string
}

// Keeper runs the webhook receiver and keeps its registration while a
// daemon runs. A registration failure falls back to polling.
type Keeper struct {
	o    KeeperOptions
	recv *Receiver
	srv  *http.Server
	ln   net.Listener
	addr string

	mu         sync.Mutex
	reg        Registration
	registered bool
	err        string
	lastTest   string
}

// NewKeeper makes the keeper; it listens in Recover.
func NewKeeper(o KeeperOptions) *Keeper {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{o: o}
}

// Recover, with webhooks on, listens for deliveries (an address in use is
// an error) and, with Wait, registers the subscription (see register).
// With webhooks off it deletes a subscription left from when they were on,
// so the API stops calling a receiver that no longer listens.
func (k *Keeper) Recover(ctx context.Context) error {
	if !k.o.Enabled {
		k.removeStale(ctx)
		return nil
	}
	u, _ := url.Parse(k.o.PublicURL)
	k.recv = NewReceiver(ReceiverOptions{Path: u.Path, Static: k.o.Secret, MaxBody: k.o.MaxBody, Logger: k.o.Log})
	ln, err := net.Listen("tcp", k.o.Listen)
	if err != nil {
		return fmt.Errorf("webhook.listen %s: %w (pick a free port)", k.o.Listen, err)
	}
	k.ln, k.addr = ln, ln.Addr().String()
	k.srv = &http.Server{Handler: k.recv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	k.o.Log.Info("webhook receiver listening", "listen", k.addr, "public_url", k.o.PublicURL, "tls", k.o.TLSCert != "")
	if k.o.Wait {
		k.register(ctx)
	}
	return nil
}

// Run serves deliveries until ctx ends (then gives requests two seconds),
// registers the subscription unless Recover did, and once it is
// registered nudges the poller with every verified delivery and checks a
// test delivery in the background.
func (k *Keeper) Run(ctx context.Context) error {
	if !k.o.Enabled {
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		var err error
		if k.o.TLSCert != "" {
			err = k.srv.ServeTLS(k.ln, k.o.TLSCert, k.o.TLSKey)
		} else {
			err = k.srv.Serve(k.ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.o.Log.Error("webhook receiver stopped", "error", err)
		}
	})
	wg.Go(func() { shutdownAt(ctx, k.srv) })
	if !k.o.Wait && ctx.Err() == nil {
		k.register(ctx)
	}
	k.mu.Lock()
	registered := k.registered
	k.mu.Unlock()
	if !registered {
		return nil
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-k.recv.Events():
				k.o.Poller.Nudge(ev.ExtractionID, ev.DocumentID, ev.Event == apitypes.EventJobCompleted)
			}
		}
	})
	wg.Go(func() { k.o.Poller.RunNudges(ctx, 100*time.Millisecond) })
	wg.Go(func() {
		msg, err := k.Test(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			k.o.Log.Warn("webhook test delivery failed; polling every "+k.o.PollInterval.String()+" still finds every result", "error", err)
		default:
			k.o.Log.Info(msg)
		}
	})
	return nil
}

// register registers the subscription (or reuses the stored one); once it
// is, polling slows down to the safety net. A failure leaves polling as it
// is.
func (k *Keeper) register(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	reg, err := Ensure(rctx, k.o.Client, k.o.Store, k.o.PublicURL, k.o.Events, k.o.Secret, k.o.Log)
	cancel()
	if err != nil {
		k.mu.Lock()
		k.err = err.Error()
		k.mu.Unlock()
		if ctx.Err() == nil {
			k.o.Log.Error("webhook not registered; results are found by polling instead", "error", err, "poll_interval", k.o.Polling)
		}
		return
	}
	k.mu.Lock()
	k.reg, k.registered = reg, true
	k.mu.Unlock()
	k.recv.SetSecret(reg.SigningSecret)
	k.o.Poller.SetInterval(k.o.PollInterval)
}

// Test asks for a test delivery and waits for it at the receiver.
func (k *Keeper) Test(ctx context.Context) (string, error) {
	k.mu.Lock()
	id, why := k.reg.WebhookID, k.err
	k.mu.Unlock()
	if id == "" {
		if why == "" {
			why = "its registration has not finished yet (the API may be unreachable); try again in a minute"
		}
		return "", fmt.Errorf("the webhook is not registered: %s", why)
	}
	wait := k.o.TestWait
	if wait <= 0 {
		wait = 15 * time.Second
	}
	err := SendTest(ctx, k.o.Client, id, k.recv, wait)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.lastTest = "failed: " + err.Error()
		return "", err
	}
	k.lastTest = "arrived and verified at " + time.Now().Format(time.RFC3339)
	return "webhook test delivery arrived and verified", nil
}

// Status is the receiver's counts and the registration's state.
func (k *Keeper) Status() Status {
	var v, r, d int64
	if k.recv != nil {
		v, r, d = k.recv.Counts()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return Status{WebhookID: k.reg.WebhookID, URL: k.o.PublicURL, Listen: k.addr, Verified: v, Rejected: r,
		Dropped: d, LastTest: k.lastTest, Error: k.err}
}

// removeStale deletes a subscription left from when webhooks were on.
func (k *Keeper) removeStale(ctx context.Context) {
	reg, ok, err := Load(k.o.Store)
	if err != nil || !ok {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if id, err := Remove(rctx, k.o.Client, k.o.Store); err != nil {
		k.o.Log.Warn("webhooks are off but the old subscription could not be deleted; run 'ppsync webhook remove'", "webhook_id", reg.WebhookID, "error", err)
	} else {
		k.o.Log.Info("webhooks are off: deleted the subscription", "webhook_id", id)
	}
}

// shutdownAt shuts srv down once ctx ends, giving requests two seconds.
func shutdownAt(ctx context.Context, srv *http.Server) {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
