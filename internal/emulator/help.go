package emulator

import "strings"

// Help is the longer text of 'ppsync emulator --help': the control
// endpoints, the parsers a new emulator knows, the keys and the quirks.
// Tests keep it in step with the routes registered and the parsers seeded.
func Help() string {
	return strings.Join([]string{
		"Serves the PerfectParser API (/v1/...) in memory, for tests and integrations: point [api] base_url at",
		"the printed address (plain http:// is accepted for a loopback emulator) and use one of its keys.",
		"Every request, the control endpoints included, needs the header X-API-Key: <key> (--api-key,",
		"default pp_test_local).",
		"",
		"Control endpoints (not part of the real API):",
		"  GET  /_emulator/stats     counters as JSON: requests_total, requests and responses per route and status,",
		"                            rate_limited, extractions_created, documents_created, pages_charged,",
		"                            idempotent_replays, credits_available",
		"  POST /_emulator/credits   set the balance: body {\"credits\": N} (0 runs out: submissions get 402);",
		"                            answers with the stats",
		"  e.g. curl -H 'X-API-Key: pp_test_local' -d '{\"credits\": 50}' http://127.0.0.1:8787/_emulator/credits",
		"",
		"Parsers a new emulator knows (more with POST /v1/parsers):",
		"  prs_invoice        Invoice Parser: vendor_name, invoice_number, invoice_date, total_amount, currency,",
		"                     line_items; every PDF or photo gets a result",
		"  prs_unconfigured   Unconfigured Parser: no schema yet, submissions answer 400 PARSER_NOT_CONFIGURED",
		"                     (until PATCH /v1/parsers/prs_unconfigured or detect-fields gives it one)",
		"",
		"Faults: --fail-rate, --latency, --cut-rate, --garble-rate, --slow-rate/--slow-delay,",
		"--webhook-drop-rate/--webhook-delay; limits: --rate-window, --requests-per-window, --submissions-per-window;",
		"--clock-skew runs the server's clock ahead (or, negative, behind); --seed repeats a run's faults.",
		"Quirks (--quirks a,b or all), other readings of what the API docs leave open:",
		"  " + QuirkNames(),
		"See docs/emulator.md for each flag and quirk.",
	}, "\n")
}
