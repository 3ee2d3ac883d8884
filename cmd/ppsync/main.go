// Command ppsync turns a folder into a PerfectParser pipeline.
//
// main only parses the subcommand and its flags, wires the internal
// packages together and maps errors to exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailed  = 1 // ran, but some files failed (or a check found problems)
	exitCantRun = 2 // bad config, bad key, unreachable API, bad usage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main holds what the subcommands need from the process.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

type command struct {
	name    string
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

func (m *Main) commands() []command {
	return []command{
		{"run", "watch the inboxes of a config file and process every PDF dropped there", (*Main).runDaemon},
		{"demo", "try ppsync with no key and no network: an in-process emulator and sample invoices", (*Main).runDemo},
		{"check", "check a config: key, credits, parsers, inboxes, state (exit 1 with fixes when something is wrong)", (*Main).runCheck},
		{"status", "show what ppsync is doing: files by state per inbox, last errors, credits", (*Main).runStatus},
		{"retry", "send failed files through again", (*Main).runRetry},
		{"webhook", "manage the webhook subscription: remove, test", (*Main).runWebhook},
		{"state", "check the state file, or rebuild a damaged one from the inboxes", (*Main).runState},
		{"install", "install ppsync as a service (systemd, Windows service, launchd)", (*Main).runInstall},
		{"uninstall", "remove the service", m.serviceControl("uninstall")},
		{"start", "start the service", m.serviceControl("start")},
		{"stop", "stop the service", m.serviceControl("stop")},
		{"restart", "restart the service", m.serviceControl("restart")},
		{"emulator", "serve a local PerfectParser API for tests and integrations", (*Main).runEmulator},
		{"version", "print the version", (*Main).runVersion},
		{"help", "show this help, or a command's help", (*Main).runHelp},
	}
}

// Run executes one subcommand and returns the process exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return exitCantRun
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	if name == "--version" || name == "-version" {
		name = "version"
	}
	for _, c := range m.commands() {
		if c.name != name {
			continue
		}
		err := c.run(m, ctx, args[1:])
		return m.report(err)
	}
	fmt.Fprintf(m.Stderr, "ppsync: unknown command %q\n\n", name)
	m.usage(m.Stderr)
	return exitCantRun
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "ppsync turns a folder into a PerfectParser pipeline: every PDF dropped into an inbox")
	fmt.Fprintln(w, "gets its extracted data as <file>.json beside it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: ppsync <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ppsync <command> --help' for a command's flags. Start with 'ppsync demo'.")
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func (m *Main) report(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee *exitError
	code := exitCantRun
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	if errors.Is(err, errUsage) {
		return exitCantRun // the flag package already printed why
	}
	fmt.Fprintf(m.Stderr, "ppsync: %v\n", err)
	return code
}

var errUsage = errors.New("usage")

// flags builds a FlagSet whose --help prints the command's summary.
func (m *Main) flags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ppsync %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

func (m *Main) runHelp(_ context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stdout)
		return nil
	}
	for _, c := range m.commands() {
		if c.name == args[0] && c.name != "help" {
			return c.run(m, context.Background(), []string{"--help"})
		}
	}
	return fmt.Errorf("no command %q: run 'ppsync help' for the list", args[0])
}
