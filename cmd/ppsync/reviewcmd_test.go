package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/testlog"
)

// reviewInvoice is invoice n carrying emulator markers.
func reviewInvoice(t *testing.T, n int, markers ...string) []byte {
	t.Helper()
	inv := samples.Generate(5, n, 1)
	inv.Extra = markers
	b, err := inv.PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const reviewConfig = `review_below = 0.85
require = ["invoice_number", "total_amount", "invoice_date"]
review_sums = true
review_duplicates = true
ledger = "ledger.csv"
`

// reviewDaemon starts a daemon over an inbox with review rules and the
// given files, and waits until every file has an output.
func reviewDaemon(t *testing.T, files map[string][]byte) (cfgPath string, cfg *config.Config, emu *emulator.Emulator) {
	t.Helper()
	cfgPath, emu = setupWith(t, files, "", "prs_invoice")
	appendConfig(t, cfgPath, reviewConfig)
	cfg = startDaemon(t, cfgPath)
	inbox := filepath.Join(filepath.Dir(cfgPath), "inbox")
	deadline := time.Now().Add(30 * time.Second)
	for name := range files {
		p := filepath.Join(inbox, name)
		for !exists(results.ResultPath(p)) && !exists(results.ReviewPath(p)) && !exists(results.ErrorPath(p)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s has no output after 30 s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return cfgPath, cfg, emu
}

// startDaemon runs the daemon of cfgPath until the test ends.
func startDaemon(t *testing.T, cfgPath string) *config.Config {
	t.Helper()
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	m := &Main{Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"run", "-c", cfgPath}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d: %s", code, logs.String())
		}
	})
	if os.Getenv("PPSYNC_DEBUG_REVIEW") != "" {
		t.Cleanup(func() { t.Log(logs.String()) })
	}
	waitHTTP(t, "http://"+cfg.Admin.Listen+"/healthz")
	return cfg
}

// waitQueue waits until n results are listed for review (a held file is
// on disk a moment before it is listed).
func waitQueue(t *testing.T, c *admin.Client, n int) admin.ReviewList {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		l, err := c.ReviewList(t.Context())
		if err == nil && l.Count == n {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("the review queue never listed %d results: %v %+v", n, err, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestReviewCommandsAgainstTheDaemon(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfgPath, cfg, emu := reviewDaemon(t, map[string][]byte{
		"good.pdf":    reviewInvoice(t, 1),
		"low.pdf":     reviewInvoice(t, 2, emulator.LowConfidenceMarker),
		"sum.pdf":     reviewInvoice(t, 3, emulator.BadSumMarker),
		"missing.pdf": reviewInvoice(t, 4, emulator.MissingFieldMarker+"invoice_date"),
	})
	inbox := filepath.Join(filepath.Dir(cfgPath), "inbox")
	if !exists(results.ResultPath(filepath.Join(inbox, "good.pdf"))) {
		t.Fatal("the good invoice was not delivered")
	}
	for _, n := range []string{"low.pdf", "sum.pdf", "missing.pdf"} {
		if exists(results.ResultPath(filepath.Join(inbox, n))) {
			t.Fatalf("%s was delivered unchecked", n)
		}
	}
	charged := emu.Stats().PagesCharged
	waitQueue(t, admin.NewClient(cfg), 3)

	code, out, errOut := run(t, env, "review", "list", "-c", cfgPath, "--json")
	if code != 0 {
		t.Fatalf("review list: %d %s", code, errOut)
	}
	var l admin.ReviewList
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Count != 3 || l.ByInbox[cfg.Inboxes[0].Path] != 3 || l.Oldest == nil {
		t.Fatalf("review list: %v\n%s", err, out)
	}
	ids := map[string]string{}
	for _, it := range l.Items {
		ids[filepath.Base(it.File)] = it.ID
		want := map[string]string{"low.pdf": "low_confidence", "sum.pdf": "sums", "missing.pdf": "missing_field"}[filepath.Base(it.File)]
		if it.Reasons[0].Rule != want {
			t.Errorf("%s held by %+v, want %s", it.File, it.Reasons, want)
		}
	}
	if code, out, _ := run(t, env, "review", "list", "-c", cfgPath); code != 0 || !strings.Contains(out, "3 results to review") || !strings.Contains(out, "sums: the line items add up to") {
		t.Fatalf("review list text: %d\n%s", code, out)
	}
	if code, out, _ := run(t, env, "review", "show", ids["sum.pdf"], "-c", cfgPath); code != 0 || !strings.Contains(out, "total_amount") || !strings.Contains(out, "confidence:") {
		t.Fatalf("review show: %d\n%s", code, out)
	}

	// Approve with a correction, reject with a note, and refuse nonsense.
	var doc struct {
		Document struct {
			ExtractedData struct {
				TotalAmount float64 `json:"total_amount"`
			} `json:"extracted_data"`
		} `json:"document"`
	}
	b, _ := os.ReadFile(results.ReviewPath(filepath.Join(inbox, "sum.pdf")))
	_ = json.Unmarshal(b, &doc)
	fixed := doc.Document.ExtractedData.TotalAmount - 10
	if code, out, errOut := run(t, env, "review", "approve", ids["sum.pdf"], "--set", "total_amount="+jsonFloat(fixed), "--note", "checked the paper", "-c", cfgPath); code != 0 || !strings.Contains(out, "approved:") {
		t.Fatalf("approve: %d\n%s\n%s", code, out, errOut)
	}
	res, err := os.ReadFile(results.ResultPath(filepath.Join(inbox, "sum.pdf")))
	if err != nil || !strings.Contains(string(res), `"decision": "approved"`) || !strings.Contains(string(res), "checked the paper") ||
		!strings.Contains(string(res), `"total_amount": `+jsonFloat(fixed)) {
		t.Fatalf("approved result: %v\n%s", err, res)
	}
	if code, _, errOut := run(t, env, "review", "reject", ids["low.pdf"], "--note", "blurry", "-c", cfgPath); code != 0 {
		t.Fatalf("reject: %d %s", code, errOut)
	}
	if e, err := os.ReadFile(results.ErrorPath(filepath.Join(inbox, "low.pdf"))); err != nil || !strings.Contains(string(e), "REJECTED_IN_REVIEW") {
		t.Fatalf("rejected: %v %s", err, e)
	}
	for _, bad := range [][]string{
		{"review", "approve", ids["missing.pdf"], "--set", "total_amount=lots"},
		{"review", "approve", "nope"},
		{"review", "reject", ids["missing.pdf"], "--set", "a=b"},
		{"review", "approve"},
		{"review", "frob"},
	} {
		if code, _, errOut := run(t, env, append(bad, "-c", cfgPath)...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d %q", bad, code, errOut)
		}
	}
	if exists(results.ResultPath(filepath.Join(inbox, "missing.pdf"))) {
		t.Fatal("a refused correction delivered the result")
	}
	if emu.Stats().PagesCharged != charged {
		t.Fatalf("a review decision charged again: %d → %d pages", charged, emu.Stats().PagesCharged)
	}
	if code, out, _ := run(t, env, "review", "list", "-c", cfgPath); code != 0 || !strings.Contains(out, "1 result to review") {
		t.Fatalf("after the decisions: %d\n%s", code, out)
	}

	// The HTTP routes: a credential is needed, and a cross-site POST is refused.
	base := "http://" + cfg.Admin.Listen
	tok, _ := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	for _, tc := range []struct {
		method, path, ctype, origin string
		auth                        bool
		want                        int
	}{
		{"GET", "/api/review", "", "", false, http.StatusUnauthorized},
		{"GET", "/api/review", "", "", true, http.StatusOK},
		{"GET", "/api/review/" + ids["missing.pdf"], "", "", true, http.StatusOK},
		{"GET", "/api/review/unknown", "", "", true, http.StatusNotFound},
		{"GET", "/api/review/" + ids["missing.pdf"] + "/original", "", "", false, http.StatusUnauthorized},
		{"GET", "/api/review/" + ids["missing.pdf"] + "/original", "", "", true, http.StatusOK},
		{"POST", "/api/review/" + ids["missing.pdf"] + "/approve", "application/json", "", false, http.StatusUnauthorized},
		{"POST", "/api/review/" + ids["missing.pdf"] + "/approve", "text/plain", "", true, http.StatusForbidden},
		{"POST", "/api/review/" + ids["missing.pdf"] + "/approve", "application/json", "http://evil.example", true, http.StatusForbidden},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{}`))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.auth {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (auth %v, %s, origin %q): HTTP %d, want %d", tc.method, tc.path, tc.auth, tc.ctype, tc.origin, resp.StatusCode, tc.want)
		}
		if strings.HasSuffix(tc.path, "/original") && tc.want == http.StatusOK &&
			(resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), `inline; filename="missing.pdf"`)) {
			t.Errorf("original served as %q, %q", resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
	}
	if exists(results.ResultPath(filepath.Join(inbox, "missing.pdf"))) {
		t.Fatal("a refused request approved the result")
	}

	// Counted: status and /metrics say what waits; /healthz stays healthy.
	if code, out, _ := run(t, env, "status", "-c", cfgPath); code != 0 || !strings.Contains(out, "review:    1 result to review, the oldest for") {
		t.Errorf("status: %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "status", "-c", cfgPath, "--json")
	var rep struct {
		Review struct {
			Pending int     `json:"pending"`
			Age     float64 `json:"oldest_age_seconds"`
		} `json:"review"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Review.Pending != 1 || rep.Review.Age <= 0 {
		t.Errorf("status --json: %d %v\n%s", code, err, out)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `ppsync_review_pending{inbox="` + cfg.Inboxes[0].Path + `",reason="missing_field"} 1`
	if !strings.Contains(string(metrics), want) || !strings.Contains(string(metrics), "ppsync_review_oldest_age_seconds ") {
		t.Errorf("metrics lack %s:\n%s", want, metrics)
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz with results waiting for review: %v %v", err, resp)
	}
}

func jsonFloat(f float64) string { b, _ := json.Marshal(f); return string(b) }

// A held result survives 'state rebuild' and later runs without being
// sent again, and review_in_ledger lists it marked; its approval then
// replaces the mark.
func TestReviewSurvivesStateRebuild(t *testing.T) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfgPath, emu := setupWith(t, map[string][]byte{"low.pdf": reviewInvoice(t, 21, emulator.LowConfidenceMarker), "ok.pdf": reviewInvoice(t, 22)}, "", "prs_invoice")
	appendConfig(t, cfgPath, reviewConfig+"review_in_ledger = true\n")
	if code, out, errOut := run(t, env, "run", "-c", cfgPath, "--once"); code != 0 {
		t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
	}
	low := filepath.Join(filepath.Dir(cfgPath), "inbox", "low.pdf")
	ledgerFile := filepath.Join(filepath.Dir(cfgPath), "inbox", "ledger.csv")
	if !exists(results.ReviewPath(low)) || exists(results.ResultPath(low)) {
		t.Fatal("low.pdf was not held")
	}
	led, _ := os.ReadFile(ledgerFile)
	if !strings.Contains(string(led), ",review") || !strings.Contains(string(led), "to review") {
		t.Fatalf("review_in_ledger: the held result is not marked:\n%s", led)
	}
	docs := emu.Stats().DocumentsCreated
	if code, out, errOut := run(t, env, "state", "rebuild", "-c", cfgPath); code != 0 {
		t.Fatalf("state rebuild: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := run(t, env, "run", "-c", cfgPath, "--once"); code != 0 {
		t.Fatalf("run after the rebuild: %d\n%s\n%s", code, out, errOut)
	}
	if emu.Stats().DocumentsCreated != docs {
		t.Fatalf("the held file was sent again after 'state rebuild': %d → %d documents", docs, emu.Stats().DocumentsCreated)
	}
	if !exists(results.ReviewPath(low)) || exists(results.ResultPath(low)) {
		t.Fatal("after the rebuild the result is no longer held")
	}
	l := waitQueue(t, admin.NewClient(startDaemon(t, cfgPath)), 1)
	if code, out, errOut := run(t, env, "review", "approve", l.Items[0].ID, "-c", cfgPath); code != 0 {
		t.Fatalf("approve: %d\n%s\n%s", code, out, errOut)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		led, _ = os.ReadFile(ledgerFile)
		if !strings.Contains(string(led), "to review") && strings.Contains(string(led), "INV-2026-00021") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the approved result's row is still marked or missing:\n%s", led)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
