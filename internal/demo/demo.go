// Package demo runs ppsync with no key and no network: an in-process
// emulator, sample invoices, a receipt photo and a ledger in a folder.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
)

const demoKey = "pp_test_demo"

// Options say where the demo runs and what it shows.
type Options struct {
	Dir     string // the demo's folder; "" for a new temporary one
	Once    bool   // process the samples and return instead of watching
	Verbose bool   // show ppsync's own log lines (on Log)
	Out     io.Writer
	Log     io.Writer
}

// Run runs the demo until ctx ends (with Once, until the samples have
// their results), printing what happens on o.Out.
func Run(ctx context.Context, o Options) error {
	root := o.Dir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "ppsync-demo-"); err != nil {
			return fmt.Errorf("demo: cannot create a folder: %w", err)
		}
	}
	root, _ = filepath.Abs(root)
	inbox := filepath.Join(root, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return fmt.Errorf("demo: cannot create %s: %w", inbox, err)
	}

	// The emulator, in-process on a loopback port.
	emu := emulator.New(emulator.Options{APIKeys: []string{demoKey}, Credits: 500, ProcessingTime: 200 * time.Millisecond,
		TempDir: root})
	defer emu.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: cannot listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	names, err := writeSamples(inbox)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "ppsync demo\n  inbox:    %s\n  emulator: http://%s (an in-process PerfectParser API, 500 credits)\n  samples:  %s\n\n",
		inbox, ln.Addr(), strings.Join(names, ", "))

	cfg, err := config.Parse(filepath.Join(root, "demo.toml"), fmt.Appendf(nil, `
[api]
base_url = "http://%s"
api_key = "%s"
[state]
path = "state.db"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
ledger = "invoices.csv"
settle = "500ms"
incomplete_after = "5s"
rescan_interval = "5s"
[upload]
batch_window = "500ms"
[poll]
interval = "1s"
[admin]
listen = "off"
`, ln.Addr(), demoKey))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	level := slog.LevelError
	if o.Verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: level}))
	ready := make(chan struct{})
	go func() {
		select {
		case <-ready:
			if !o.Once {
				fmt.Fprintf(o.Out, "Watching %s: drop more PDFs or photos (PNG, JPEG, WebP) there (Ctrl-C to stop).\n\n", inbox)
			}
		case <-ctx.Done():
		}
	}()
	sum, err := daemon.Run(ctx, daemon.Options{
		Config: cfg, APIKey: demoKey, Once: o.Once, Logger: log, Ready: ready,
		OnFinished: func(f state.File, doc json.RawMessage) { printResult(o.Out, inbox, f, doc) },
	})
	if err != nil {
		return err
	}
	st := emu.Stats()
	fmt.Fprintf(o.Out, "\n%d done, %d failed, %d refused before upload. The API was called %d times; %d pages charged, %d credits left.\n",
		sum.Done, sum.Failed, sum.Invalid, st.RequestsTotal, st.PagesCharged, st.CreditsAvailable)
	fmt.Fprintf(o.Out, "Results are beside the files in %s\n", inbox)
	fmt.Fprintf(o.Out, "Ledger (one row per document, opens in Excel or LibreOffice): %s\n", cfg.Inboxes[0].Ledger)
	return nil
}

// writeSamples puts a few invoices in the inbox: distinct ones, one copy of
// the same content under another name (submitted once), a phone photo of a
// till receipt, and one broken file.
func writeSamples(inbox string) ([]string, error) {
	var names []string
	var first []byte
	for i, pages := range []int{1, 2, 1, 3} {
		inv := samples.Generate(2026, i+1, pages)
		b, err := inv.PDF()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = b
		}
		name := fmt.Sprintf("invoice-%s.pdf", strings.ToLower(strings.Fields(inv.Vendor)[0]))
		if err := os.WriteFile(filepath.Join(inbox, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("demo: writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	receipt := "receipt-photo.jpg"
	if err := samples.GenerateReceipt(2026, 1).WriteJPEG(filepath.Join(inbox, receipt)); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	names = append(names, receipt)
	extra := map[string][]byte{
		"copy of first invoice.pdf": first,                                 // same content: charged once
		"broken-scan.pdf":           []byte("%PDF-1.4\nthis scan was cut"), // no %%EOF: refused locally
	}
	for name, b := range extra {
		if err := os.WriteFile(filepath.Join(inbox, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("demo: writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func printResult(out io.Writer, inbox string, f state.File, doc json.RawMessage) {
	rel, err := filepath.Rel(inbox, f.Path)
	if err != nil {
		rel = f.Path
	}
	if f.State != state.FileDone {
		fmt.Fprintf(out, "✗ %s: %s\n", rel, f.Reason)
		return
	}
	var d struct {
		Data map[string]any `json:"extracted_data"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.Data == nil {
		fmt.Fprintf(out, "✓ %s → %s\n", rel, filepath.Base(f.Result))
		return
	}
	var parts []string
	for _, k := range []string{"invoice_number", "vendor_name", "invoice_date", "total_amount", "currency"} {
		if v, ok := d.Data[k]; ok && v != nil {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if items, ok := d.Data["line_items"].([]any); ok {
		parts = append(parts, fmt.Sprintf("line_items=%d", len(items)))
	}
	fmt.Fprintf(out, "✓ %s → %s: %s\n", rel, filepath.Base(f.Result), strings.Join(parts, " "))
}
