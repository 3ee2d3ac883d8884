package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/webui"
)

var _ control.Control = (*Client)(nil)

// ErrNoDaemon means no daemon answered at the config's admin address.
var ErrNoDaemon = errors.New("no daemon answered")

// WrongDaemonError is a daemon that answered for another config.
type WrongDaemonError struct {
	Addr      string
	Got, Want Identity
}

func (e *WrongDaemonError) Error() string {
	return fmt.Sprintf("the daemon at %s serves %s (state %s), not %s (state %s): "+
		"give each config its own [admin] listen (or leave it unset: the default port follows [state] path), then restart that daemon",
		e.Addr, e.Got.Config, e.Got.State, e.Want.Config, e.Want.State)
}

// Client talks to the daemon of one config, and only to it (it is that
// daemon's control.Control): every call
// first checks that the daemon at the admin address serves this config's
// state, and every request names that state.
type Client struct {
	addr      string
	scheme    string
	tokenFile string // the daemon's own token (config.AdminTokenFile)
	token     string // from [admin] auth_token_file
	tokenErr  error  // why [admin] auth_token_file cannot be read
	setup     error  // a certificate that cannot be read
	want      Identity
	http      *http.Client
	verified  bool
}

// NewClient returns the client for cfg's daemon; nil when [admin] listen
// is "off". It sends the token the daemon wrote beside its state
// (config.AdminTokenFile), or when that cannot be read, the token of
// [admin] auth_token_file; and speaks HTTPS when [admin] tls_cert is set,
// trusting exactly that certificate (the daemon serves the same file,
// whatever names it carries).
func NewClient(cfg *config.Config) *Client {
	addr := dialAddr(cfg.Admin.Listen)
	if addr == "" {
		return nil
	}
	c := &Client{addr: addr, scheme: "http", want: Identity{Config: cfg.File, State: cfg.State.Path}, http: &http.Client{},
		tokenFile: config.AdminTokenFile(cfg.State.Path)}
	if f := cfg.Admin.AuthTokenFile; f != "" {
		c.token, c.tokenErr = webui.ReadToken(f)
	}
	if cfg.Admin.TLSCert != "" {
		c.scheme = "https"
		tc, err := pinned(cfg.Admin.TLSCert)
		if err != nil && c.setup == nil {
			c.setup = err
		}
		c.http.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return c
}

// pinned trusts the server certificate in certFile and nothing else.
func pinned(certFile string) (*tls.Config, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("[admin] tls_cert: cannot read %s: %w", certFile, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("[admin] tls_cert %s: no PEM certificate in it", certFile)
	}
	want := blk.Bytes
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain and name are not checked against a CA: the daemon's
		// certificate must be byte for byte the configured one.
		InsecureSkipVerify: true, //nolint:gosec // verified below by pinning
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return fmt.Errorf("the admin endpoint's certificate is not the one in [admin] tls_cert (%s)", certFile)
			}
			return nil
		},
	}, nil
}

// Addr is the address the client calls.
func (c *Client) Addr() string { return c.addr }

// credential is the token to send, read afresh (the daemon writes a new
// one at every start), or why there is none.
func (c *Client) credential() (string, error) {
	tok, err := readLocalToken(c.tokenFile)
	switch {
	case err == nil:
		return tok, nil
	case c.token != "":
		return c.token, nil
	case c.tokenErr != nil:
		return "", errors.Join(err, c.tokenErr)
	}
	return "", err
}

// LoginLink asks the daemon for a one-time sign-in link to the status
// page (valid for webui.LoginCodeTTL, once).
func (c *Client) LoginLink(ctx context.Context) (string, time.Time, error) {
	var ans webui.LoginCode
	if err := c.call(ctx, 3*time.Second, http.MethodPost, webui.LoginCodePath, struct{}{}, &ans); err != nil {
		return "", time.Time{}, err
	}
	return c.scheme + "://" + c.addr + ans.Path, ans.Expires, nil
}

// dialAddr is where a daemon listening on listen answers ("" when off).
func dialAddr(listen string) string {
	if listen == "off" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Status returns the daemon's report.
func (c *Client) Status(ctx context.Context) (report.Report, error) {
	var rep report.Report
	err := c.call(ctx, 3*time.Second, http.MethodGet, "/status", nil, &rep)
	return rep, err
}

// PlanReprocess asks the daemon what processing finished files again
// sends and costs; nothing changes.
func (c *Client) PlanReprocess(ctx context.Context, paths []string) (control.ReprocessAnswer, error) {
	var ans control.ReprocessAnswer
	err := c.call(ctx, 10*time.Second, http.MethodPost, "/reprocess", control.ReprocessRequest{Paths: paths}, &ans)
	return ans, err
}

// Reprocess asks the daemon to process the finished files among paths
// again (charged again): the plan, with the paths marked.
func (c *Client) Reprocess(ctx context.Context, paths []string) (control.ReprocessAnswer, error) {
	var ans control.ReprocessAnswer
	err := c.call(ctx, 10*time.Second, http.MethodPost, "/reprocess", control.ReprocessRequest{Paths: paths, Confirm: true}, &ans)
	return ans, err
}

// RebuildLedgers asks the daemon to regenerate every inbox's ledger from
// its result files (waits up to 10 minutes).
func (c *Client) RebuildLedgers(ctx context.Context) (control.RebuildAnswer, error) {
	var ans control.RebuildAnswer
	if err := c.call(ctx, 10*time.Minute, http.MethodPost, "/ledger/rebuild", struct{}{}, &ans); err != nil {
		return ans, err
	}
	return ans, ans.Err()
}

// Retry asks the daemon to send files through again.
func (c *Client) Retry(ctx context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	var ans control.RetryAnswer
	err := c.call(ctx, 10*time.Second, http.MethodPost, "/retry", req, &ans)
	return ans, err
}

// WebhookTest asks the daemon for a test delivery (waits up to 30 s).
func (c *Client) WebhookTest(ctx context.Context) (control.WebhookTestAnswer, error) {
	var ans control.WebhookTestAnswer
	err := c.call(ctx, 35*time.Second, http.MethodPost, "/webhook/test", struct{}{}, &ans)
	return ans, err
}

// Identity asks the daemon which config it serves and checks it is ours.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	if err := c.do(ctx, 3*time.Second, http.MethodGet, "/identity", nil, &id); err != nil {
		return id, err
	}
	if !c.ours(id) {
		return id, &WrongDaemonError{Addr: c.addr, Got: id, Want: c.want}
	}
	c.verified = true
	return id, nil
}

func (c *Client) ours(id Identity) bool {
	if filepath.Clean(id.State) != filepath.Clean(c.want.State) {
		return false
	}
	if id.Config == c.want.Config {
		return true
	}
	a, err1 := os.Stat(id.Config)
	b, err2 := os.Stat(c.want.Config)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func (c *Client) call(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	if !c.verified {
		if _, err := c.Identity(ctx); err != nil {
			return err
		}
	}
	return c.do(ctx, timeout, method, path, body, out)
}

func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	if c.setup != nil {
		return fmt.Errorf("admin endpoint %s: %w", c.addr, c.setup)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := c.scheme + "://" + c.addr + path
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if path != "/identity" {
		req.Header.Set(StateHeader, c.want.State)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	tok, tokErr := c.credential()
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrNoDaemon, c.addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode == http.StatusNotFound && path == "/identity" {
		return fmt.Errorf("%w: %s answers, but not like this ppsync (no /identity): another program or an older ppsync holds the port; set [admin] listen", ErrNoDaemon, c.addr)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		hint := fmt.Sprintf("the daemon does not accept the token in %s: the daemon at %s serves another config's state "+
			"(give each config its own [admin] listen), or it restarted just now (try again)", c.tokenFile, c.addr)
		if tokErr != nil {
			hint = tokErr.Error()
		}
		return fmt.Errorf("admin endpoint %s refused the request (HTTP 401): %s", url, hint)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin endpoint %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s did not answer like ppsync (%v)", ErrNoDaemon, url, err)
	}
	return nil
}
