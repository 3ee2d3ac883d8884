package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Serve runs an emulator with o on listen until ctx ends, as 'ppsync
// emulator' does: it says on out where it listens, which quirks it plays
// and when it has stopped.
func Serve(ctx context.Context, listen string, o Options, out io.Writer) error {
	emu := New(o)
	defer emu.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("emulator --listen %s: %w (is another emulator running? pick another port)", listen, err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	if len(o.Quirks) > 0 {
		fmt.Fprintf(out, "quirks: %v\n", o.Quirks)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("emulator shutdown: %w", err)
	}
	fmt.Fprintln(out, "emulator stopped")
	return nil
}
