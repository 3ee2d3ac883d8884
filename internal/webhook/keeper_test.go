package webhook_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/webhook"
)

// fakePoller records what the keeper asks of the poller.
type fakePoller struct {
	mu       sync.Mutex
	interval time.Duration
}

func (p *fakePoller) SetInterval(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interval = d
}

func (p *fakePoller) get() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interval
}

func (*fakePoller) Nudge(string, string, bool) {}

func (*fakePoller) RunNudges(ctx context.Context, _ time.Duration) { <-ctx.Done() }

// TestKeeperRegistersServesAndRemovesWhenOff runs a keeper with webhooks
// on: it listens in Recover, registers in Run and slows polling down, a
// test delivery arrives and is verified, and its port is closed when Run
// returns. A keeper with webhooks off then deletes the subscription left.
// The test delivery may wait out the emulator's retries (1, 2, 4, 8 and
// 16 s) when a first attempt times out on a loaded machine.
func TestKeeperRegistersServesAndRemovesWhenOff(t *testing.T) {
	e := newEnv(t)
	st := openStore(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pol := &fakePoller{}
	k := webhook.NewKeeper(webhook.KeeperOptions{Enabled: true, PublicURL: "http://" + addr + "/hook", Listen: addr,
		Events: []string{apitypes.EventJobCompleted}, PollInterval: 5 * time.Minute, Polling: time.Second,
		TestWait: patience.Scale(45 * time.Second), Client: e.c, Store: st, Poller: pol, Log: e.log})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	deadline := time.Now().Add(patience.Scale(30 * time.Second))
	for k.Status().WebhookID == "" || pol.get() != 5*time.Minute {
		if time.Now().After(deadline) {
			t.Fatalf("not registered, or polling not slowed down: %+v, interval %v\n%s", k.Status(), pol.get(), e.buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := k.Test(ctx); err != nil {
		t.Fatalf("test delivery: %v", err)
	}
	if s := k.Status(); s.Verified == 0 || s.LastTest == "" {
		t.Fatalf("status after a test delivery: %+v", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return once its context ended")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the receiver still listens after Run returned")
	}
	if ids := e.hookIDs(t); len(ids) != 1 {
		t.Fatalf("subscriptions %v, want the one registered", ids)
	}
	off := webhook.NewKeeper(webhook.KeeperOptions{Client: e.c, Store: st, Poller: pol, Log: e.log})
	if err := off.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids := e.hookIDs(t); len(ids) != 0 {
		t.Fatalf("subscriptions %v left with webhooks off", ids)
	}
}
