package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// Sender delivers one message to one target.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Target is a parsed [[notify]] URL: its sender, what it is (for people:
// "slack https://hooks.slack.com/…", secrets masked), and the masker that
// removes its secrets from any text (errors above all).
type Target struct {
	Kind   string
	Where  string
	Sender Sender
	mask   *Masker
}

// Mask removes the target's secrets from s.
func (t *Target) Mask(s string) string { return t.mask.Mask(s) }

// Masker replaces secrets by "***".
type Masker struct{ secrets []string }

// Mask removes every secret from s.
func (m *Masker) Mask(s string) string {
	if m == nil {
		return s
	}
	for _, x := range m.secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "***")
		}
	}
	return s
}

func (m *Masker) add(s ...string) {
	for _, x := range s {
		// Short values ("a", "1") would mask unrelated text; a secret this
		// short protects nothing anyway.
		if len(x) >= 4 {
			m.secrets = append(m.secrets, x)
			if e := url.PathEscape(x); e != x {
				m.secrets = append(m.secrets, e)
			}
			if e := url.QueryEscape(x); e != x {
				m.secrets = append(m.secrets, e)
			}
		}
	}
}

// Kinds of target, by URL scheme.
const (
	KindEmail   = "email"
	KindSlack   = "slack"
	KindTeams   = "teams"
	KindNtfy    = "ntfy"
	KindWebhook = "webhook"
)

// ParseTarget reads a [[notify]] URL:
//
//	smtp://user:password@mail.example.com:587/?from=a@example.com&to=b@example.com,c@example.com
//	smtps://…:465/…                      (TLS from the start; smtp:// uses STARTTLS, tls=none for a local relay)
//	slack://hooks.slack.com/services/T…/B…/…    (a Slack incoming webhook)
//	teams://prod-00.westeurope.logic.azure.com/workflows/…  (a Teams Workflows webhook)
//	ntfy://ntfy.sh/topic?token=tk_…      (or user:password@)
//	webhook://example.com/hook           (a generic JSON POST)
//
// The HTTP targets use HTTPS; "+http" after the scheme (slack+http://)
// sends plain HTTP, for a relay on the same machine.
func ParseTarget(raw string, client *http.Client) (*Target, error) {
	u, err := url.Parse(raw)
	m := &Masker{}
	if err != nil {
		return nil, fmt.Errorf("not a URL (see docs/notifications.md for the forms): %s", maskAll(err.Error(), raw))
	}
	if pw, ok := u.User.Password(); ok {
		m.add(pw)
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 && !strings.Contains(v, "@") {
				m.add(v)
			}
		}
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	scheme, plain := strings.CutSuffix(strings.ToLower(u.Scheme), "+http")
	if after, ok := strings.CutSuffix(scheme, "+https"); ok {
		scheme = after
	}
	httpURL := func() *url.URL {
		h := *u
		h.Scheme = "https"
		if plain {
			h.Scheme = "http"
		}
		h.User = nil
		return &h
	}
	switch scheme {
	case "smtp", "smtps":
		e, err := parseEmail(u, scheme == "smtps")
		if err != nil {
			return nil, err
		}
		where := fmt.Sprintf("email to %s via %s", strings.Join(e.to, ", "), u.Host)
		return &Target{Kind: KindEmail, Where: where, Sender: e, mask: m}, nil
	case KindSlack, KindTeams, KindNtfy, KindWebhook:
		if u.Host == "" {
			return nil, fmt.Errorf("%s URL has no host: write %s://host/path", scheme, scheme)
		}
		// A webhook's path is its secret (Slack, Teams): only the host is shown.
		if len(u.Path) > 1 {
			m.add(strings.TrimPrefix(u.Path, "/"))
			for _, seg := range strings.Split(u.Path, "/") {
				if len(seg) >= 12 {
					m.add(seg)
				}
			}
		}
		m.add(u.RawQuery)
		h := &httpSender{kind: scheme, url: httpURL(), client: client}
		if pw, ok := u.User.Password(); ok {
			h.user, h.pass = u.User.Username(), pw
		}
		if scheme == KindNtfy {
			topic := strings.Trim(u.Path, "/")
			if topic == "" || strings.Contains(topic, "/") {
				return nil, fmt.Errorf("ntfy URL needs the topic as its path: ntfy://ntfy.sh/TOPIC")
			}
			h.topic = topic
			h.token = u.Query().Get("token")
			q := h.url.Query()
			q.Del("token")
			h.url.RawQuery = q.Encode()
			h.url.Path = "/"
		}
		return &Target{Kind: scheme, Where: scheme + " " + h.url.Scheme + "://" + h.url.Host + "/…", Sender: h, mask: m}, nil
	}
	return nil, fmt.Errorf("%q is not a kind of target: use smtp://, smtps://, slack://, teams://, ntfy:// or webhook:// (see docs/notifications.md)", u.Scheme)
}

func maskAll(s, raw string) string { return strings.ReplaceAll(s, raw, "***") }

// emailSender sends over SMTP with go-mail.
type emailSender struct {
	host       string
	port       int
	ssl        bool
	policy     mail.TLSPolicy
	user, pass string
	from       string
	to         []string
	tls        *tls.Config
}

func parseEmail(u *url.URL, ssl bool) (*emailSender, error) {
	q := u.Query()
	e := &emailSender{host: u.Hostname(), ssl: ssl, policy: mail.TLSMandatory, from: q.Get("from")}
	if e.host == "" {
		return nil, fmt.Errorf("smtp URL has no server: write smtp://user@mail.example.com:587/?from=…&to=…")
	}
	for _, t := range strings.Split(q.Get("to"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			e.to = append(e.to, t)
		}
	}
	if e.from == "" || len(e.to) == 0 {
		return nil, fmt.Errorf("smtp URL needs ?from=ADDRESS&to=ADDRESS[,ADDRESS] (who sends, who receives)")
	}
	switch q.Get("tls") {
	case "", "starttls":
	case "none":
		if ssl {
			return nil, fmt.Errorf("smtps:// is TLS from the start: tls=none contradicts it (use smtp://…?tls=none for a local relay)")
		}
		e.policy = mail.NoTLS
	default:
		return nil, fmt.Errorf("smtp URL: tls=%q: use starttls (the default, required), or none for a relay on the same machine; smtps:// for TLS from the start", q.Get("tls"))
	}
	e.port = 587
	if ssl {
		e.port = 465
	} else if e.policy == mail.NoTLS {
		e.port = 25
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("smtp URL: port %q is not a number", p)
		}
		e.port = n
	}
	if u.User != nil {
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
	}
	if e.policy == mail.NoTLS && e.pass != "" && !loopback(e.host) {
		return nil, fmt.Errorf("smtp URL: tls=none would send the password to %s in clear text: use STARTTLS (leave tls out) or smtps://; tls=none is for a relay on the same machine", e.host)
	}
	if ca := q.Get("ca_file"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("smtp URL: ca_file %s: %w", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp URL: ca_file %s holds no PEM certificate", ca)
		}
		e.tls = &tls.Config{RootCAs: pool, ServerName: e.host, MinVersion: tls.VersionTLS12}
	}
	return e, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (e *emailSender) Send(ctx context.Context, m Message) error {
	tc := e.tls
	if tc == nil {
		tc = &tls.Config{ServerName: e.host, MinVersion: tls.VersionTLS12}
	}
	// The connection is closed when ctx ends: a server that accepts and
	// never answers holds a message until then, not for every timeout.
	// (go-mail's dial context ends once it has dialled: the one of Send
	// is the one watched.)
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		var c net.Conn
		var err error
		if e.ssl {
			c, err = (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(dctx, network, addr)
		} else {
			c, err = nd.DialContext(dctx, network, addr)
		}
		if err == nil {
			stops = append(stops, context.AfterFunc(ctx, func() { _ = c.Close() }))
		}
		return c, err
	}
	opts := []mail.Option{mail.WithPort(e.port), mail.WithTLSPolicy(e.policy), mail.WithTimeout(30 * time.Second),
		mail.WithTLSConfig(tc), mail.WithDialContextFunc(dial)}
	if e.ssl {
		opts = append(opts, mail.WithSSL())
	}
	if e.user != "" {
		// The connection is encrypted (STARTTLS is mandatory, smtps is TLS
		// from the start), so every mechanism the server offers may be used,
		// strongest first; go-mail's own discovery does not count smtps as
		// encrypted. tls=none is for a relay on this machine (parseEmail).
		auth := mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256PLUS, mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1PLUS,
			mail.SMTPAuthSCRAMSHA1, mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin)
		if e.policy == mail.NoTLS {
			auth = mail.WithSMTPAuth(mail.SMTPAuthPlainNoEnc)
		}
		opts = append(opts, auth, mail.WithUsername(e.user), mail.WithPassword(e.pass))
	}
	c, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s:%d: %w", e.host, e.port, err)
	}
	msg := mail.NewMsg()
	if err := msg.From(e.from); err != nil {
		return fmt.Errorf("smtp from %q: %w", e.from, err)
	}
	if err := msg.To(e.to...); err != nil {
		return fmt.Errorf("smtp to %q: %w", strings.Join(e.to, ","), err)
	}
	msg.Subject(m.Subject())
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Text())
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s:%d: %w", e.host, e.port, err)
	}
	return nil
}

// httpSender posts a JSON payload in the service's documented format.
type httpSender struct {
	kind       string
	url        *url.URL
	client     *http.Client
	user, pass string
	topic      string
	token      string
}

func (h *httpSender) payload(m Message) any {
	switch h.kind {
	case KindSlack:
		// https://api.slack.com/messaging/webhooks: {"text": …} in mrkdwn.
		return map[string]any{"text": "*" + m.Subject() + "*\n" + m.Body}
	case KindTeams:
		// A Teams Workflows webhook takes a message with an Adaptive Card.
		body := []map[string]any{
			{"type": "TextBlock", "text": m.Subject(), "weight": "Bolder", "size": "Medium", "wrap": true},
			{"type": "TextBlock", "text": m.Body, "wrap": true},
		}
		return map[string]any{"type": "message", "attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type": "AdaptiveCard", "version": "1.4", "body": body},
		}}}
	case KindNtfy:
		// https://docs.ntfy.sh/publish/#publish-as-json
		prio, tags := 3, []string{"information_source"}
		switch m.Status {
		case StatusProblem:
			prio, tags = 4, []string{"warning"}
		case StatusResolved:
			tags = []string{"white_check_mark"}
		}
		return map[string]any{"topic": h.topic, "title": m.Subject(), "message": m.Body, "priority": prio, "tags": tags}
	default:
		return webhookPayload{Event: m.Event, Status: m.Status, Title: m.Title, Text: m.Body, Time: m.At.UTC(), Host: m.Host,
			Files: m.Files}
	}
}

// webhookPayload is what a generic webhook receives.
type webhookPayload struct {
	Event  string    `json:"event"`
	Status string    `json:"status"`
	Title  string    `json:"title"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	Host   string    `json:"host"`
	Files  []string  `json:"files,omitempty"`
}

func (h *httpSender) Send(ctx context.Context, m Message) error {
	b, err := json.Marshal(h.payload(m))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url.String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ppsync-notify")
	if h.user != "" {
		req.SetBasicAuth(h.user, h.pass)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", h.kind, h.url.Host, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s answered %s: %s", h.kind, h.url.Host, resp.Status, strings.TrimSpace(string(text)))
	}
	return nil
}
