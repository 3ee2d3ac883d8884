// Command ppsync turns a folder into a PerfectParser pipeline.
//
// main only parses the subcommand and its flags, wires the internal
// packages together and maps errors to exit codes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/completion"
	"github.com/ppsync/ppsync/internal/emulator"
)

// exitCantRun is the exit code of a command that could not run: bad
// config, bad key, unreachable API, bad usage (internal/cli has them all).
const exitCantRun = cli.ExitCantRun

func main() {
	// ppsync serves no heap profile: without sampling, no allocation pays
	// for a stack walk, and those walks do not page in the function tables
	// of every code path that allocates.
	runtime.MemProfileRate = 0
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the config of a running daemon (see runDaemon).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Reload: hup}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main holds what the subcommands need from the process.
type Main struct {
	// Stdin answers confirmations (nil means os.Stdin; only a terminal can confirm).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Reload delivers SIGHUP: a running daemon reads its config again.
	Reload <-chan os.Signal
	// flagSets, when not nil, collects the flag sets the commands make
	// (by name, "run", "state compact"): shell completion reads them.
	flagSets map[string]*flag.FlagSet
}

type command struct {
	name    string
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
	// help is the longer text of 'ppsync help NAME', after the summary.
	help string
}

func (m *Main) commands() []command {
	return []command{
		{"run", "watch the inboxes of a config file and process every PDF or photo dropped there", (*Main).runDaemon,
			"Runs in the foreground until Ctrl-C (or, with --once, until every file found now has a result).\n" +
				"Exit codes with --once: 0 all done, 1 some files failed (their .error.json says why), 2 could not run."},
		{"demo", "try ppsync with no key and no network: an in-process emulator, sample invoices, a receipt photo and a ledger", (*Main).runDemo, ""},
		{"check", "check a config: key, credits, parsers, inboxes, state (exit 1 with fixes when something is wrong)", (*Main).runCheck,
			"Finds the API key as the service does (the environment, then the env file beside the config or [api] env_file).\n" +
				"It only reads: the state file is opened read-only and never created, so running it as root is safe.\n" +
				"Run as root, it tests the folders as the service's user (--service-user, else User= of the installed unit, else ppsync)\n" +
				"and against the unit's ReadWritePaths= (--unit FILE, else the installed ppsync.service and its drop-ins; --unit none for none)."},
		{"status", "show what ppsync is doing: files by state per inbox, last errors, credits", (*Main).runStatus,
			"Asks the running daemon of this config (its admin endpoint), or reads the state file when none runs.\n" +
				"It refuses a daemon that serves another config."},
		{"retry", "send failed files through again", (*Main).runRetry,
			"Name the files, or use --failed for every failed or refused file. Each file sent again is charged again.\n" +
				"--reprocess PATH... processes files again on purpose, finished (done) ones included, as new jobs:\n" +
				"it says what that costs first and asks on a terminal (--yes skips the question)."},
		{"webhook", "manage the webhook subscription: remove, test", (*Main).runWebhook, ""},
		{"review", "list, show, approve or reject the results held for a person to check", (*Main).runReview, reviewHelp},
		{"notify", "send a test message to every [[notify]] target and say what happened", (*Main).runNotify,
			"'ppsync notify test -c FILE' sends a test message to each target (e-mail, Teams, Slack, ntfy, webhook)\n" +
				"and prints, per target, whether it was accepted; exit 1 when one was not. See docs/notifications.md."},
		{"state", "check the state file, compact it, or rebuild a damaged one from the inboxes", (*Main).runState,
			"'ppsync state compact -c FILE' rewrites the state file without its free pages and prints its size before and\n" +
				"after; stop ppsync first. A running daemon prunes old records itself (see [state] retention) and compacts\n" +
				"the file at start-up once more than half of it is free."},
		{"ledger", "rebuild the inboxes' ledgers (CSV or Excel, one row per document) from the result files", (*Main).runLedger,
			"'ppsync ledger rebuild -c FILE' rewrites every ledger set in the config from the result files (the inbox, or\n" +
				"its results_dir, and processed_dir when files are moved). The running daemon keeps the ledgers up to date by\n" +
				"itself; use this after editing or deleting results by hand. An unreadable folder leaves the old ledger as it was."},
		{"install", "install ppsync as a service (systemd, Windows service, launchd)", (*Main).runInstall, ""},
		{"uninstall", "remove the service", m.serviceControl("uninstall"),
			"Stops and removes the service installed by 'ppsync install'. The config, the state and the results stay.\n" +
				"Run it as root (Administrator on Windows)."},
		{"start", "start the service", m.serviceControl("start"),
			"Asks the service manager (systemd, the Windows service manager, launchd) to start the installed service.\n" +
				"Run it as root (Administrator on Windows); 'ppsync status' then shows whether it runs."},
		{"stop", "stop the service", m.serviceControl("stop"),
			"Asks the service manager to stop the installed service. Files in flight are finished at the next start;\n" +
				"nothing is submitted twice. Run it as root (Administrator on Windows)."},
		{"restart", "restart the service", m.serviceControl("restart"),
			"Stops and starts the installed service, e.g. after editing the config. Run it as root (Administrator on Windows)."},
		{"config", "show the effective configuration: every setting, its value and where it came from", (*Main).runConfig,
			"'ppsync config show -c FILE' prints every setting after the defaults as TOML that ppsync reads back, each\n" +
				"with its source (the file's line, or the default); secrets are masked. --json prints the same as JSON."},
		{"completion", "print a shell completion script: bash, zsh, fish or powershell", (*Main).runCompletion, completion.Help},
		{"emulator", "serve a local PerfectParser API for tests and integrations", (*Main).runEmulator, emulator.Help()},
		{"version", "print the version", (*Main).runVersion, ""},
		{"help", "show this help, or a command's help", (*Main).runHelp, ""},
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
	fmt.Fprintln(w, "ppsync turns a folder into a PerfectParser pipeline: every PDF or photo dropped into an inbox")
	fmt.Fprintln(w, "gets its extracted data as <file>.json beside it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: ppsync <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range m.commands() {
		width = max(width, len(c.name))
	}
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary) // two spaces: the man page's generator splits there
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ppsync <command> --help' for a command's flags. Start with 'ppsync demo'.")
}

func (m *Main) report(err error) int {
	code, say := cli.ExitCode(err)
	if say {
		fmt.Fprintf(m.Stderr, "ppsync: %v\n", err)
	}
	return code
}

// flags builds a FlagSet whose --help prints the command's usage, its
// summary and help, and its flags.
func (m *Main) flags(name, usage string) *flag.FlagSet {
	about, help := m.about(strings.Fields(name)[0])
	fs := cli.FlagSet(name, usage, about, help, m.Stderr)
	if m.flagSets != nil {
		m.flagSets[name] = fs
	}
	return fs
}

// about is command name's summary as a sentence, and its help ("" when
// there is no such command).
func (m *Main) about(name string) (sentence, help string) {
	for _, c := range m.commands() {
		if c.name == name {
			return strings.ToUpper(c.summary[:1]) + c.summary[1:] + ".", c.help
		}
	}
	return "", ""
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
