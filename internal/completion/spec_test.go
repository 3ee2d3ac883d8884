package completion

import (
	"flag"
	"strings"
	"testing"
)

// Spec finds each command's flags, its subcommands (from its usage lines)
// and theirs through the probe.
func TestSpecProbesCommands(t *testing.T) {
	probe := func(name string, args ...string) (map[string]*flag.FlagSet, string) {
		sets := map[string]*flag.FlagSet{}
		key := strings.Join(append([]string{name}, args[:len(args)-1]...), " ")
		fs := flag.NewFlagSet(key, flag.ContinueOnError)
		fs.String("c", "", "config file")
		if key == "state check" {
			fs.Bool("json", false, "print JSON")
		}
		sets[key] = fs
		switch key {
		case "state":
			return sets, "Usage: ppsync state check -c FILE\n       ppsync state compact -c FILE"
		case "retry":
			return sets, "Usage: ppsync retry -c FILE [PATH ...]"
		}
		return sets, ""
	}
	spec := Spec([][2]string{{"state", "the state"}, {"retry", "send again"}, {"help", "help"}, {"completion", "scripts"}}, probe)
	if got := strings.Join(Names(spec), ","); got != "state,retry,help,completion" {
		t.Fatalf("commands %s", got)
	}
	st := spec[0]
	if got := strings.Join(Names(st.Subs), ","); got != "check,compact" || st.Args != "" || st.Summary != "the state" {
		t.Fatalf("state: %+v", st)
	}
	if got := FlagWords(st.Subs[0].Flags); got != "-c --json" {
		t.Errorf("state check flags %q", got)
	}
	if spec[1].Args != "file" || FlagWords(spec[1].Flags) != "-c" {
		t.Errorf("retry: %+v", spec[1])
	}
	if spec[2].Args != "command" {
		t.Errorf("help args %q", spec[2].Args)
	}
	if got := strings.Join(Names(spec[3].Subs), ","); got != strings.Join(Shells(), ",") {
		t.Errorf("completion subs %s", got)
	}
}
