// Package cli is what ppsync's commands do once their flags are read, and
// what they share in reading their command line and talking to the person
// at the terminal: flags anywhere on the line, help, a yes/no
// confirmation, counts in words, exit codes. Its Console asks the
// installation (status, retry, reprocess, webhook, ledgers, review,
// notifications, the state file, the effective config) and prints the
// answers; cmd/ppsync only parses flags and calls it.
package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"
)

// ErrUsage means the command line was wrong and the flag set already said
// why.
var ErrUsage = errors.New("usage")

// Parse parses flags anywhere on the line ("retry a.pdf -c x.toml") and
// refuses positional arguments.
func Parse(fs *flag.FlagSet, args []string) error {
	rest, err := ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(rest, " "))
		fs.Usage()
		return ErrUsage
	}
	return nil
}

// ParseArgs parses flags wherever they stand and returns the positional
// arguments in order; everything after "--" is positional. A bad flag is
// ErrUsage (the flag set printed why); --help is flag.ErrHelp.
func ParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, ErrUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// ErrNoTerminal means a confirmation was needed but nobody can give it.
var ErrNoTerminal = errors.New("not a terminal, so nobody can confirm")

// Confirm asks question on out and reads y or yes from in (nil: os.Stdin).
// Only a terminal can answer: otherwise it is ErrNoTerminal, and no answer
// (end of input) is no.
func Confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	if in == nil {
		in = os.Stdin
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, ErrNoTerminal
	}
	fmt.Fprint(out, question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// Plural is n and what, in the plural unless n is 1: "1 file", "3 files".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(what, "s"))
}

// WriteJSON writes v as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
