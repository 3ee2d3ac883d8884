package review

import (
	"encoding/json"
	"slices"
	"testing"
)

func doc(t *testing.T, s string) Doc {
	t.Helper()
	d, err := Parse(json.RawMessage(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rules(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Rule+":"+r.Field)
	}
	return out
}

func TestCheck(t *testing.T) {
	all := Rules{Below: 0.85, Require: []string{"invoice_number", "total_amount", "invoice_date"}, Sums: true, Tolerance: 0.01, Duplicates: true}
	good := `{"confidence":0.97,"extracted_data":{"vendor_name":"Acme","invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":1250.75,
		"line_items":[{"description":"a","amount":1000},{"description":"b","amount":250.75}]}}`
	cases := []struct {
		name  string
		rules Rules
		doc   string
		dup   string
		want  []string
	}{
		{"all good", all, good, "", nil},
		{"no rules hold nothing", Rules{}, `{"confidence":0.1,"extracted_data":{}}`, "x.pdf", nil},
		{"low confidence", all, `{"confidence":0.5,"extracted_data":{"invoice_number":"1","total_amount":1,"invoice_date":"d"}}`, "", []string{"low_confidence:"}},
		{"confidence equal to the bar passes", all, `{"confidence":0.85,"extracted_data":{"invoice_number":"1","total_amount":1,"invoice_date":"d"}}`, "", nil},
		{"no confidence at all", Rules{Below: 0.5}, `{"extracted_data":{}}`, "", []string{"low_confidence:"}},
		{"missing, null and empty fields", all, `{"confidence":0.99,"extracted_data":{"invoice_number":null,"invoice_date":"  "}}`, "",
			[]string{"missing_field:invoice_number", "missing_field:total_amount", "missing_field:invoice_date"}},
		{"zero total is present", Rules{Require: []string{"total_amount"}}, `{"extracted_data":{"total_amount":0}}`, "", nil},
		{"sums off by a cent within tolerance", Rules{Sums: true, Tolerance: 0.01}, `{"extracted_data":{"total_amount":10.01,"line_items":[{"amount":10}]}}`, "", nil},
		{"sums off", Rules{Sums: true}, `{"extracted_data":{"total_amount":1260.75,"line_items":[{"amount":1000},{"amount":250.75}]}}`, "", []string{"sums:total_amount"}},
		{"sums with a wider tolerance", Rules{Sums: true, Tolerance: 20}, `{"extracted_data":{"total_amount":1260.75,"line_items":[{"amount":1000},{"amount":250.75}]}}`, "", nil},
		{"sums with string amounts", Rules{Sums: true}, `{"extracted_data":{"total_amount":"1,250.75","line_items":[{"amount":"1,000"},{"total":250.75}]}}`, "", nil},
		{"item without amount", Rules{Sums: true}, `{"extracted_data":{"total_amount":5,"line_items":[{"description":"x"}]}}`, "", []string{"sums:total_amount"}},
		{"no items: nothing to add up", Rules{Sums: true}, `{"extracted_data":{"total_amount":5,"line_items":[]}}`, "", nil},
		{"duplicate", all, good, "a.pdf", []string{"duplicate:invoice_number"}},
		{"duplicate rule off", Rules{Below: 0.5}, good, "a.pdf", nil},
		{"several at once", all, `{"confidence":0.2,"extracted_data":{"invoice_number":"1","invoice_date":"d","total_amount":9,"line_items":[{"amount":1}]}}`, "b.pdf",
			[]string{"low_confidence:", "sums:total_amount", "duplicate:invoice_number"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := rules(Check(c.rules, doc(t, c.doc), c.dup))
			if !slices.Equal(got, c.want) {
				t.Fatalf("held by %v, want %v", got, c.want)
			}
		})
	}
}

func TestCheckMessagesSayWhy(t *testing.T) {
	rs := Check(Rules{Below: 0.85, Sums: true, Duplicates: true}, doc(t, `{"confidence":0.5,"extracted_data":{"total_amount":3,"line_items":[{"amount":1}]}}`), "x/a.pdf")
	want := []string{"confidence 0.5 is below 0.85", "the line items add up to 1.00, the total is 3.00 (off by 2.00, tolerance 0.01)",
		"probably a duplicate of x/a.pdf (same vendor and invoice number, or same vendor, date and total)"}
	for i, r := range rs {
		if r.Message != want[i] {
			t.Errorf("reason %d: %q, want %q", i, r.Message, want[i])
		}
	}
	if len(rs) != 3 || rs[2].DuplicateOf != "x/a.pdf" {
		t.Fatalf("reasons %+v", rs)
	}
}

func TestParseRefusesBadJSON(t *testing.T) {
	for _, s := range []string{`[`, `{"extracted_data":[1]}`} {
		if _, err := Parse(json.RawMessage(s)); err == nil {
			t.Errorf("Parse(%s) = nil error", s)
		}
	}
}

func TestIndex(t *testing.T) {
	facts := func(s string) Facts { return FactsOf(doc(t, s).Data) }
	a := facts(`{"extracted_data":{"vendor_name":"Acme  Corp","invoice_number":"inv-1","invoice_date":"2026-06-01","total_amount":10}}`)
	cases := []struct {
		name  string
		other string
		dup   bool
	}{
		{"same vendor and number, written differently", `{"extracted_data":{"vendor_name":"ACME CORP ","invoice_number":"INV- 1"}}`, true},
		{"same vendor, date and total, other number", `{"extracted_data":{"vendor_name":"Acme Corp","invoice_number":"X","invoice_date":"2026-06-01","total_amount":"10.00"}}`, true},
		{"same number, other vendor", `{"extracted_data":{"vendor_name":"Other","invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":10}}`, false},
		{"same vendor and date, other total", `{"extracted_data":{"vendor_name":"Acme Corp","invoice_date":"2026-06-01","total_amount":11}}`, false},
		{"no vendor", `{"extracted_data":{"invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":10}}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ix := NewIndex()
			ix.Add("in/a.pdf", a)
			got, ok := ix.Match("in/b.pdf", facts(c.other))
			if ok != c.dup || ok && got != "in/a.pdf" {
				t.Fatalf("Match = %q, %v; want duplicate %v", got, ok, c.dup)
			}
		})
	}
	ix := NewIndex()
	ix.Add("in/a.pdf", a)
	if _, ok := ix.Match("in/a.pdf", a); ok {
		t.Fatal("a file matched itself")
	}
	ix.Remove("in/a.pdf")
	if _, ok := ix.Match("in/b.pdf", a); ok || ix.Len() != 0 {
		t.Fatal("a removed file still matches")
	}
}

func TestCorrect(t *testing.T) {
	data := doc(t, `{"extracted_data":{"invoice_number":"INV-1","total_amount":10.5,"paid":false,"line_items":[]}}`).Data
	cases := []struct {
		name    string
		set     map[string]string
		want    string
		orig    string
		wantErr bool
	}{
		{"string stays text", map[string]string{"invoice_number": "0042"}, `"0042"`, `"INV-1"`, false},
		{"number parsed", map[string]string{"total_amount": "1,250.75"}, `1250.75`, `10.5`, false},
		{"number refused", map[string]string{"total_amount": "ten"}, ``, ``, true},
		{"bool", map[string]string{"paid": "true"}, `true`, `false`, false},
		{"list as JSON", map[string]string{"line_items": `[{"amount":1}]`}, `[{"amount":1}]`, `[]`, false},
		{"null clears", map[string]string{"invoice_number": "null"}, `null`, `"INV-1"`, false},
		{"new amount is a number", map[string]string{"tax_amount": "3"}, `3`, `null`, false},
		{"new field is text", map[string]string{"invoice_date": "2026-01-02"}, `"2026-01-02"`, `null`, false},
		{"no field name", map[string]string{"": "x"}, ``, ``, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, orig, err := Correct(data, c.set)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				return
			}
			for k := range c.set {
				got, _ := json.Marshal(out[k])
				was, _ := json.Marshal(orig[k])
				if string(got) != c.want || string(was) != c.orig {
					t.Fatalf("%s = %s (was %s), want %s (was %s)", k, got, was, c.want, c.orig)
				}
			}
		})
	}
	if _, _, err := Correct(data, map[string]string{"invoice_number": "X"}); err != nil || data["invoice_number"] != "INV-1" {
		t.Fatal("Correct changed its input")
	}
}
