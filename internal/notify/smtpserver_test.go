package notify_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// smtpServer is a small SMTP server on loopback: enough of RFC 5321 for a
// client to authenticate (PLAIN), optionally upgrade with STARTTLS, and
// deliver messages, which it keeps.
type smtpServer struct {
	ln   net.Listener
	tls  *tls.Config // STARTTLS offered when set
	mu   sync.Mutex
	msgs []smtpMsg
	got  chan smtpMsg
}

type smtpMsg struct {
	Auth string // "user\x00password" from AUTH PLAIN
	From string
	To   []string
	Data string
	TLS  bool
}

func newSMTPServer(t *testing.T, tc *tls.Config) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, tls: tc, got: make(chan smtpMsg, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) port() string {
	_, p, _ := net.SplitHostPort(s.ln.Addr().String())
	return p
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 localhost ESMTP test")
	var m smtpMsg
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"localhost", "AUTH PLAIN", "8BITMIME"}
			if s.tls != nil && !m.TLS {
				lines = append(lines, "STARTTLS")
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c = tc
			tp = textproto.NewConn(tc)
			m = smtpMsg{TLS: true}
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				_ = tp.PrintfLine("504 unsupported")
				continue
			}
			if ir == "" {
				_ = tp.PrintfLine("334 ")
				ir, _ = tp.ReadLine()
			}
			b, _ := base64.StdEncoding.DecodeString(ir)
			m.Auth = strings.TrimPrefix(string(b), "\x00")
			_ = tp.PrintfLine("235 ok")
		case "MAIL":
			m.From = arg
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			m.To = append(m.To, arg)
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			r := bufio.NewReader(tp.DotReader())
			var b strings.Builder
			_, _ = r.WriteTo(&b)
			m.Data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			s.got <- m
			m = smtpMsg{TLS: m.TLS, Auth: m.Auth}
			_ = tp.PrintfLine("250 queued")
		case "RSET", "NOOP":
			_ = tp.PrintfLine("250 ok")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 unknown")
		}
	}
}
