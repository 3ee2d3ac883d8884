// Package monitoring holds the Prometheus alert rules and the Grafana
// dashboard shipped for ppsync; its tests check them against promtool and
// against the metrics /metrics really exposes.
package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exposed lists the metric names ppsync's /metrics serves, read from the
// code that defines them (the admin endpoint's collector and the notifier).
func exposed(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, f := range []struct {
		path string
		re   *regexp.Regexp
	}{
		{"../internal/admin/admin.go", regexp.MustCompile(`prometheus\.NewDesc\("([a-z_]+)"`)},
		{"../internal/notify/notifier.go", regexp.MustCompile(`Name: "([a-z_]+)"`)},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.re.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	if !slices.Contains(names, "ppsync_result_latency_seconds") || !slices.Contains(names, "ppsync_notify_failed_total") {
		t.Fatalf("the metric names were not found in the code (found %v)", names)
	}
	for _, n := range slices.Clone(names) {
		if n == "ppsync_result_latency_seconds" { // a histogram
			names = append(names, n+"_bucket", n+"_count", n+"_sum")
		}
	}
	return append(names, "up")
}

var metricRe = regexp.MustCompile(`\b(ppsync_[a-z_]+|up)\b`)

// checkNames fails for every metric named in text that /metrics lacks.
func checkNames(t *testing.T, what, text string, names []string) int {
	t.Helper()
	n := 0
	for _, m := range metricRe.FindAllString(text, -1) {
		n++
		if !slices.Contains(names, m) {
			t.Errorf("%s uses %s, which /metrics does not expose", what, m)
		}
	}
	return n
}

func TestRulesAndDashboardUseExposedMetrics(t *testing.T) {
	names := exposed(t)
	rules, err := os.ReadFile("ppsync-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, line := range strings.Split(string(rules), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			exprs = append(exprs, s)
		} else if strings.HasPrefix(strings.TrimSpace(line), "histogram_quantile") {
			exprs = append(exprs, line)
		}
	}
	if checkNames(t, "ppsync-alerts.yml", strings.Join(exprs, "\n"), names) < 8 {
		t.Errorf("found too few metrics in the rules' expressions: %q", exprs)
	}
	b, err := os.ReadFile("ppsync-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("ppsync-dashboard.json: %v", err)
	}
	if len(d.Panels) < 10 {
		t.Fatalf("the dashboard has %d panels", len(d.Panels))
	}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			if checkNames(t, "dashboard panel "+p.Title, q.Expr, names) == 0 {
				t.Errorf("dashboard panel %s: %q names no metric", p.Title, q.Expr)
			}
		}
	}
}

// promtool checks the rules and runs their unit tests (one or more for
// each alert), when installed (Debian's prometheus package; CI installs it).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus): the alert rules are not checked")
	}
	for _, args := range [][]string{{"check", "rules", "ppsync-alerts.yml"}, {"test", "rules", "ppsync-alerts.test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has a unit test.
	rules, _ := os.ReadFile("ppsync-alerts.yml")
	tests, _ := os.ReadFile("ppsync-alerts.test.yml")
	for _, m := range regexp.MustCompile(`alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		if !strings.Contains(string(tests), "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no unit test in ppsync-alerts.test.yml", m[1])
		}
	}
}
