package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts: a slow or idle client cannot hold the endpoint. A
// webhook test waits up to 30 s for its delivery, hence the write timeout.
// An upload from the page extends both deadlines as its bytes arrive.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 60 * time.Second
	// rebuildTimeout is how long POST /ledger/rebuild may take.
	rebuildTimeout = 10 * time.Minute
)

// NewServer returns the endpoint's HTTP server with its timeouts set.
func NewServer(src Source, o Options) *http.Server {
	return &http.Server{Handler: Handler(src, o), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, TLSConfig: o.TLS}
}

// Serve listens on o.Listen and serves the endpoint (over TLS when o.TLS
// is set) until the returned stop function is called (it waits up to 2 s
// for requests in progress, then removes the token file).
func Serve(ctx context.Context, src Source, o Options, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: listen %s: %w (set [admin] listen to a free port, or \"off\")", o.Listen, err)
	}
	if _, port, _ := net.SplitHostPort(o.Listen); port == "0" {
		o.Listen = ln.Addr().String()
	}
	o.Security.Listen = o.Listen
	if o.Security.Log == nil {
		o.Security.Log = log.With("component", "admin")
	}
	// Only once the port is ours: a second daemon that cannot listen must
	// not replace the first one's token.
	if o.TokenFile != "" {
		if o.Security.LocalToken, err = writeToken(o.TokenFile); err != nil {
			ln.Close()
			return nil, err
		}
	}
	srv := NewServer(src, o)
	scheme := "http"
	if o.TLS != nil {
		ln = tls.NewListener(ln, o.TLS)
		scheme = "https"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin endpoint stopped", "error", err)
		}
	}()
	paths := "/healthz /identity /status /metrics"
	if o.Page != nil {
		paths = "/ (status page) " + paths
	}
	log.Info("admin endpoint listening", "url", scheme+"://"+ln.Addr().String()+"/", "paths", paths, "token_file", o.TokenFile,
		"sign_in", "run 'ppsync status' for a one-time link to the status page")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		if o.TokenFile != "" {
			removeToken(o.TokenFile, o.Security.LocalToken)
		}
	}, nil
}
