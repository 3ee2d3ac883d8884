package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/control"
)

// reprocessing is a daemon that can also process files again.
type reprocessing struct {
	fake
	rmu    sync.Mutex
	marked [][]string
}

func (r *reprocessing) PlanReprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	ans := control.ReprocessAnswer{Skipped: map[string]string{}}
	for _, p := range paths {
		if strings.HasSuffix(p, ".pdf") {
			ans.Files = append(ans.Files, p)
			ans.Pages += 2
		} else {
			ans.Skipped[p] = "not tracked"
		}
	}
	return ans, nil
}

func (r *reprocessing) Reprocess(ctx context.Context, paths []string) (control.ReprocessAnswer, error) {
	ans, _ := r.PlanReprocess(ctx, paths)
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.marked = append(r.marked, ans.Files)
	ans.Reprocessed = ans.Files
	return ans, nil
}

func TestReprocessPlansThenMarksOnlyWhenConfirmed(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, t.TempDir(), addr)
	src := &reprocessing{}
	serve(t, cfg, src)
	c := admin.NewClient(cfg)
	ctx := context.Background()

	plan, err := c.PlanReprocess(ctx, []string{"/in/a.pdf", "/in/b.pdf", "/in/notes.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Pages != 4 || len(plan.Files) != 2 || plan.Skipped["/in/notes.txt"] == "" || len(plan.Reprocessed) != 0 {
		t.Fatalf("plan = %+v", plan)
	}
	if len(src.marked) != 0 {
		t.Fatal("a plan marked files")
	}
	ans, err := c.Reprocess(ctx, []string{"/in/a.pdf", "/in/notes.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ans.Reprocessed, []string{"/in/a.pdf"}) || len(src.marked) != 1 || !slices.Equal(src.marked[0], []string{"/in/a.pdf"}) {
		t.Fatalf("confirmed: %+v, marked %v (want only the planned file)", ans, src.marked)
	}

	// A daemon that fails to reprocess says why.
	addr2 := freeAddr(t)
	cfg2 := testConfig(t, t.TempDir(), addr2)
	serve(t, cfg2, &fake{})
	if _, err := admin.NewClient(cfg2).PlanReprocess(ctx, []string{"/in/a.pdf"}); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "does not process files again") {
		t.Fatalf("reprocess on a daemon failing it: %v", err)
	}
}

// The page is mounted at "/" inside the guard; its upload route takes a
// file body marked by the page's header, other POSTs still need JSON.
func TestPageMountedInsideTheGuard(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, t.TempDir(), addr)
	o := admin.OptionsFor(cfg)
	var hits []string
	var mu sync.Mutex
	o.Page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	})
	o.TokenFile = ""
	o.Security.LocalToken = "ok-ok-ok-ok-ok-ok"
	o.Activity = activity.New(nil)
	o.Activity.Result(3*time.Second, 1)
	stop, err := admin.Serve(context.Background(), &fake{}, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	base := "http://" + addr
	auth := map[string]string{"Authorization": "Bearer ok-ok-ok-ok-ok-ok"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"Authorization": "Bearer ok-ok-ok-ok-ok-ok"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		want               int
	}{
		{"page without auth", "GET", "/", nil, http.StatusUnauthorized},
		{"status without auth", "GET", "/status", nil, http.StatusUnauthorized},
		{"page", "GET", "/", auth, http.StatusTeapot},
		{"page data", "GET", "/ui/api/overview", auth, http.StatusTeapot},
		{"admin route still the admin's", "GET", "/healthz", auth, http.StatusOK},
		{"page upload with its header", "POST", "/ui/api/upload?inbox=0&name=a.pdf", with(map[string]string{"Content-Type": "application/pdf", "X-PPSync-Request": "1"}), http.StatusTeapot},
		{"page upload without it", "POST", "/ui/api/upload?inbox=0&name=a.pdf", with(map[string]string{"Content-Type": "application/pdf"}), http.StatusForbidden},
		{"admin post with the page header but no JSON", "POST", "/retry", with(map[string]string{"Content-Type": "text/plain", "X-PPSync-Request": "1"}), http.StatusUnsupportedMediaType},
		{"page upload from another origin", "POST", "/ui/api/upload?inbox=0&name=a.pdf", with(map[string]string{"X-PPSync-Request": "1", "Origin": "http://evil.example"}), http.StatusForbidden},
		{"health without auth", "GET", "/healthz", nil, http.StatusOK},
		{"metrics without auth", "GET", "/metrics", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := send(t, tc.method, base+tc.path, tc.header, "%PDF-1.4"); code != tc.want {
				t.Fatalf("HTTP %d (%s), want %d", code, strings.TrimSpace(body), tc.want)
			}
		})
	}
	_, body := send(t, "GET", base+"/metrics", auth, "")
	for _, want := range []string{`ppsync_result_latency_seconds_bucket{le="2"} 0`, `ppsync_result_latency_seconds_bucket{le="5"} 1`, "ppsync_result_latency_seconds_count 1", "ppsync_result_latency_seconds_sum 3"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// The client's rebuild gives the inboxes rebuilt and the error of each
// that failed, as the daemon said; its webhook test gives the answer.
func TestClientRebuildAndWebhookTest(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), freeAddr(t))
	serve(t, cfg, &fake{})
	c := admin.NewClient(cfg)
	ctx := context.Background()
	ans, err := c.RebuildLedgers(ctx)
	if err == nil || !strings.Contains(err.Error(), "ledger /b.csv of inbox /b: unreadable") {
		t.Errorf("rebuild error = %v, want the failed inbox named", err)
	}
	if len(ans.Rebuilt) != 1 || ans.Rebuilt[0].Documents != 2 || ans.Rebuilt[0].Ledger != "/in/ledger.csv" {
		t.Errorf("rebuilt = %+v, want the one inbox rebuilt", ans.Rebuilt)
	}
	hook, err := c.WebhookTest(ctx)
	if err != nil || !hook.OK || hook.Message != "delivered" {
		t.Errorf("webhook test = %+v, %v", hook, err)
	}
}
