package notify_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/notify"
)

func TestParseTargetRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"gopher://x", `"gopher" is not a kind of target`},
		{"smtp://mail.example.com/?to=a@b.c", "smtp URL needs ?from=ADDRESS&to=ADDRESS"},
		{"smtp://u:pw@mail.example.com/?from=a@b.c&to=d@e.f&tls=none", "tls=none would send the password to mail.example.com in clear text"},
		{"smtp://mail.example.com/?from=a@b.c&to=d@e.f&tls=maybe", `tls="maybe"`},
		{"smtps://mail.example.com/?from=a@b.c&to=d@e.f&tls=none", "smtps:// is TLS from the start"},
		{"ntfy://ntfy.sh/", "ntfy URL needs the topic"},
		{"slack:///services/x", "slack URL has no host"},
	} {
		if _, err := notify.ParseTarget(tc.url, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
}

// An error never shows a target's secret: a webhook's path, a token, a password.
func TestErrorsMaskTheTargetsSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	for _, tc := range []struct{ url, secret, where string }{
		{"slack+http://" + addr + "/services/T0AAAA/B0BBBB/SecretWebhookToken1", "SecretWebhookToken1", "slack http://" + addr + "/…"},
		{"teams+http://" + addr + "/workflows/abc/invoke?sig=SignatureSecret42", "SignatureSecret42", "teams http://" + addr + "/…"},
		{"ntfy+http://" + addr + "/topic?token=tk_NtfyTokenSecret", "tk_NtfyTokenSecret", "ntfy http://" + addr + "/…"},
		{"webhook+http://user:HookPassword9@" + addr + "/h", "HookPassword9", "webhook http://" + addr + "/…"},
		{"smtp://user:MailPassword7@" + addr + "/?from=a@example.com&to=b@example.com", "MailPassword7", "email to b@example.com via " + addr},
	} {
		tg, err := notify.ParseTarget(tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tg.Where != tc.where {
			t.Errorf("Where = %q, want %q", tg.Where, tc.where)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = tg.Sender.Send(ctx, notify.Message{Title: "t", Body: "b", At: time.Now()})
		cancel()
		if err == nil {
			t.Fatalf("%s: sent to a closed port", tc.where)
		}
		if masked := tg.Mask(err.Error()); strings.Contains(masked, tc.secret) || strings.Contains(tg.Where, tc.secret) {
			t.Errorf("%s: the secret shows: %s", tc.where, masked)
		} else if !strings.Contains(masked, "refused") {
			t.Errorf("%s: the error does not say why: %s", tc.where, masked)
		}
	}
}

func TestSMTPSIsTLSFromTheStart(t *testing.T) {
	cert, pemFile := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &smtpServer{ln: ln, got: make(chan smtpMsg, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.serve(c)
		}
	}()
	tg, err := notify.ParseTarget("smtps://u:longpassword@localhost:"+srv.port()+"/?from=a@example.com&to=b@example.com&ca_file="+pemFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tg.Sender.Send(ctx, notify.Message{Title: "over TLS", Body: "b", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if m := <-srv.got; m.Auth != "u\x00longpassword" || !strings.Contains(m.Data, "Subject: [ppsync] over TLS") {
		t.Errorf("got %+v", m)
	}
}

func TestQuietHoursHoldMessagesUntilTheyEnd(t *testing.T) {
	r := newReceiver(t, 0)
	cfg := notifyConfig(t, `
[[notify]]
url = "webhook+http://`+r.srv.Listener.Addr().String()+`/hook"
quiet_hours = "22:00-07:00"
group_window = "1s"
`)
	clk := &clock{t: time.Date(2026, 3, 10, 23, 0, 0, 0, time.Local)}
	n := run(t, notify.Options{Targets: targets(t, cfg, nil), Source: &fakeSource{}, Now: clk.now, Check: 5 * time.Millisecond})
	n.Failed(notify.Failure{Path: "/in/night.pdf", Reason: "broken", At: clk.now()})
	n.Restarted("killed")
	clk.add(time.Hour)
	select {
	case q := <-r.got:
		t.Fatalf("sent during quiet hours: %+v", q.Body)
	case <-time.After(300 * time.Millisecond):
	}
	clk.add(7 * time.Hour) // 07:00
	q := r.wait(t, "the held messages")
	text := q.Body["text"].(string)
	if q.Body["title"] != "2 notifications from quiet hours" || !strings.Contains(text, "/in/night.pdf: broken") ||
		!strings.Contains(text, "ppsync restarted after an unclean stop") {
		t.Errorf("got %+v", q.Body)
	}
	if files, _ := q.Body["files"].([]any); len(files) != 1 || files[0] != "/in/night.pdf" {
		t.Errorf("files = %v", q.Body["files"])
	}
}

// A health report that could not be read (no inbox list, no credit
// figures) resolves nothing.
func TestUnknownHealthResolvesNothing(t *testing.T) {
	r := newReceiver(t, 0)
	cfg := notifyConfig(t, `
[[notify]]
url = "webhook+http://`+r.srv.Listener.Addr().String()+`/hook"
inbox_down_after = "1m"
resolve_after = "1m"
credits_below = 100
`)
	clk := &clock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.Local)}
	low := 5
	src := &fakeSource{h: notify.Health{Inboxes: []notify.InboxHealth{{Path: "/in", Error: "gone"}}, Credits: &low}}
	run(t, notify.Options{Targets: targets(t, cfg, nil), Source: src, Now: clk.now, Check: 5 * time.Millisecond})
	time.Sleep(30 * time.Millisecond)
	clk.add(time.Minute)
	got := map[string]bool{}
	for len(got) < 2 {
		got[fmt.Sprint(r.wait(t, "the problems").Body["title"])] = true
	}
	src.set(func(h *notify.Health) { h.Inboxes, h.Credits = nil, nil })
	time.Sleep(30 * time.Millisecond)
	clk.add(10 * time.Minute)
	select {
	case q := <-r.got:
		t.Errorf("an unreadable report resolved a problem: %+v", q.Body)
	case <-time.After(300 * time.Millisecond):
	}
}
