package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestLighthouse runs Lighthouse (npm install -g lighthouse@12.2.3) on the
// overview, the list and a file's page, and wants 1.00 for accessibility
// and for best practices. It runs when PPSYNC_LIGHTHOUSE=1 or CI is set
// (there a missing lighthouse fails it), and is skipped otherwise.
func TestLighthouse(t *testing.T) {
	if os.Getenv("PPSYNC_LIGHTHOUSE") == "" && os.Getenv("CI") == "" {
		t.Skip("Lighthouse runs with PPSYNC_LIGHTHOUSE=1 or in CI")
	}
	lh, err := exec.LookPath("lighthouse")
	if err != nil {
		t.Fatal("lighthouse is not installed: npm install -g lighthouse@12.2.3")
	}
	chrome := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		t.Fatal("Lighthouse needs chromium: apt-get install -y chromium")
	}
	f := newFixture(t)
	now := time.Now()
	for i, st := range []string{"done", "done", "failed", "queued", "submitted", "invalid"} {
		f.add(t, i%2, fmt.Sprintf("invoice-%d.pdf", i), st, 1+i, now.Add(-time.Duration(i)*time.Minute))
	}
	done := f.add(t, 0, "acme-march.pdf", "done", 2, now)
	f.act.Result(8*time.Second, 2)
	srv := f.serverWithHistory(t, Options{}) // as the admin endpoint serves it
	dir := t.TempDir()
	for _, p := range []struct{ name, url string }{
		{"overview", "/"}, {"list", "/#/files"}, {"file", "/#/file?path=" + url.QueryEscape(done)},
	} {
		out := filepath.Join(dir, p.name+".json")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, lh, srv.URL+p.url, "--quiet", "--output=json", "--output-path="+out,
			"--only-categories=accessibility,best-practices", "--form-factor=desktop", "--screenEmulation.disabled",
			"--chrome-flags=--headless=new --no-sandbox --disable-gpu --user-data-dir="+filepath.Join(dir, "profile-"+p.name))
		cmd.Env = append(os.Environ(), "CHROME_PATH="+chrome)
		b, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("lighthouse %s: %v\n%s", p.url, err, b)
		}
		var rep struct {
			Categories map[string]struct {
				Score     *float64 `json:"score"`
				AuditRefs []struct {
					ID     string  `json:"id"`
					Weight float64 `json:"weight"`
				} `json:"auditRefs"`
			} `json:"categories"`
			Audits map[string]struct {
				Title string   `json:"title"`
				Score *float64 `json:"score"`
			} `json:"audits"`
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("lighthouse report of %s: %v", p.url, err)
		}
		for _, cat := range []string{"accessibility", "best-practices"} {
			c, ok := rep.Categories[cat]
			if !ok || c.Score == nil {
				t.Errorf("%s: no %s score in the report", p.name, cat)
				continue
			}
			t.Logf("%s %s: %.2f", p.name, cat, *c.Score)
			if *c.Score < 1 {
				var failing []string
				for _, ref := range c.AuditRefs {
					if a := rep.Audits[ref.ID]; a.Score != nil && *a.Score < 1 {
						failing = append(failing, fmt.Sprintf("%s (%s, %.2f, weight %g)", ref.ID, a.Title, *a.Score, ref.Weight))
					}
				}
				sort.Strings(failing)
				t.Errorf("%s: %s %.2f, want 1.00; failing audits: %v", p.name, cat, *c.Score, failing)
			}
		}
	}
}
