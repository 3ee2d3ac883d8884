package emulator

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// Flags adds the flags of 'ppsync emulator' to fs. Once fs is parsed, the
// function it returns checks them and gives the address to serve on and
// the options, with a logger writing to log.
func Flags(fs *flag.FlagSet) func(log io.Writer) (string, Options, error) {
	listen := fs.String("listen", "127.0.0.1:8787", "address to serve on")
	var keys stringList
	fs.Var(&keys, "api-key", "accepted API key (repeatable; default pp_test_local)")
	credits := fs.Int("credits", 1000, "starting credit balance")
	procTime := fs.Duration("processing-time", 300*time.Millisecond, "processing time per page")
	workers := fs.Int("workers", 32, "documents processed at once")
	window := fs.Duration("rate-window", time.Minute, "length of one rate-limit window (150 requests and 20 submissions per window)")
	failRate := fs.Float64("fail-rate", 0, "fraction of API requests answered 500")
	latency := fs.Duration("latency", 0, "delay added before every API answer")
	cutRate := fs.Float64("cut-rate", 0, "fraction of accepted submissions whose connection is cut after charging")
	dropRate := fs.Float64("webhook-drop-rate", 0, "fraction of webhook deliveries lost")
	hookDelay := fs.Duration("webhook-delay", 0, "delay before each webhook delivery")
	garble := fs.Float64("garble-rate", 0, "fraction of successful answers sent as malformed JSON (after the work is done)")
	slowRate := fs.Float64("slow-rate", 0, "fraction of API requests held --slow-delay before any work")
	slowDelay := fs.Duration("slow-delay", 0, "delay for --slow-rate requests (set it above the client's timeout)")
	requests := fs.Int("requests-per-window", 150, "requests allowed per window (lower it for 429 storms)")
	submissions := fs.Int("submissions-per-window", 20, "submissions allowed per window")
	seed := fs.Uint64("seed", 0, "seed for injected faults and quirks (0: random)")
	quirkList := fs.String("quirks", "", "comma-separated alternative readings of the docs to play, or all: "+QuirkNames())
	clockSkew := fs.Duration("clock-skew", 0, "run the server's clock this far ahead of this machine's (negative: behind), e.g. -1h")
	proxyMax := fs.Int64("proxy-max-body", DefaultProxyMaxBody, "request body limit in bytes of the proxy-413 quirk")
	return func(log io.Writer) (string, Options, error) {
		quirks, err := ParseQuirks(*quirkList)
		if err != nil {
			return "", Options{}, fmt.Errorf("emulator --quirks %q: %w", *quirkList, err)
		}
		if *proxyMax <= 0 {
			return "", Options{}, fmt.Errorf("emulator --proxy-max-body %d: must be a positive number of bytes", *proxyMax)
		}
		for name, v := range map[string]float64{"--fail-rate": *failRate, "--cut-rate": *cutRate, "--webhook-drop-rate": *dropRate,
			"--garble-rate": *garble, "--slow-rate": *slowRate} {
			if v < 0 || v > 1 {
				return "", Options{}, fmt.Errorf("emulator %s %v: must be between 0 and 1", name, v)
			}
		}
		if *credits < 0 {
			return "", Options{}, fmt.Errorf("emulator --credits %d: must be 0 or more", *credits)
		}
		startCredits := *credits
		if startCredits == 0 {
			startCredits = NoCredits
		}
		return *listen, Options{
			APIKeys: keys, Credits: startCredits, ProcessingTime: *procTime, Workers: *workers, RateWindow: *window,
			FailRate: *failRate, Latency: *latency, CutRate: *cutRate, WebhookDropRate: *dropRate,
			WebhookDelay: *hookDelay, Seed: *seed, Logger: slog.New(slog.NewTextHandler(log, nil)), GarbleRate: *garble,
			SlowRate: *slowRate, SlowDelay: *slowDelay, RequestsPerWindow: *requests, SubmissionsPerWindow: *submissions,
			Quirks: quirks, ProxyMaxBody: *proxyMax, ClockSkew: *clockSkew,
		}, nil
	}
}
