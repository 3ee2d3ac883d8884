package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
)

// FlagSet is a command's flag set; its --help writes to out the usage
// line ("Usage: ppsync " + usage), the command's about sentence and help
// when it has them, and its flags.
func FlagSet(name, usage, about, help string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: ppsync %s\n\n", usage)
		if about != "" {
			fmt.Fprintln(out, about)
			if help != "" {
				fmt.Fprintln(out, help)
			}
			fmt.Fprintln(out)
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "Flags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// Action takes the first argument of 'ppsync GROUP ACTION ...' when it is
// one of actions, and returns it and the arguments after it. Otherwise it
// writes usage to out and, for -h or --help, a blank line and about, and
// returns flag.ErrHelp; else ErrUsage.
func Action(out io.Writer, args, actions []string, usage, about string) (string, []string, error) {
	if len(args) > 0 && slices.Contains(actions, args[0]) {
		return args[0], args[1:], nil
	}
	fmt.Fprint(out, usage)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(out, "\n%s\n", about)
		return "", nil, flag.ErrHelp
	}
	return "", nil, ErrUsage
}
