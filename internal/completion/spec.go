package completion

import (
	"flag"
	"strings"
)

// Probe runs the command name with args (its --help, or a subcommand's)
// and returns the flag sets it made, by name ("state compact"), and what
// it printed.
type Probe func(name string, args ...string) (map[string]*flag.FlagSet, string)

// Spec reads the commands, their subcommands and their flags from the
// commands themselves: each of cmds (name and summary) is asked for its
// --help through probe, so the scripts follow every change. "help"
// completes a command name, "completion" a shell, a usage with PATH a
// file.
func Spec(cmds [][2]string, probe Probe) []Cmd {
	var spec []Cmd
	for _, c := range cmds {
		cc := Cmd{Name: c[0], Summary: c[1]}
		sets, help := probe(c[0], "--help")
		if strings.Contains(help, "PATH") {
			cc.Args = "file" // retry PATH...
		}
		if fs := sets[c[0]]; fs != nil {
			cc.Flags = FlagsOf(fs)
		}
		for _, s := range Subcommands(help, c[0]) {
			sets, _ := probe(c[0], s, "--help")
			sc := Cmd{Name: s}
			if fs := sets[c[0]+" "+s]; fs != nil {
				sc.Flags = FlagsOf(fs)
			}
			cc.Subs = append(cc.Subs, sc)
		}
		switch c[0] {
		case "help":
			cc.Args = "command"
		case "completion":
			cc.Args, cc.Subs = "", nil
			for _, s := range Shells() {
				cc.Subs = append(cc.Subs, Cmd{Name: s})
			}
		}
		if len(cc.Subs) > 0 {
			cc.Args = ""
		}
		spec = append(spec, cc)
	}
	return spec
}
