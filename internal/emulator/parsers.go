package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/ppsync/ppsync/internal/apitypes"
)

type fieldDef struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
}

var fieldTypes = []string{"string", "number", "boolean", "date", "array", "object"}

func (e *Emulator) listParsers(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	all := make([]apitypes.Parser, 0, len(e.parserOrder))
	for _, id := range e.parserOrder {
		all = append(all, e.parsers[id].Parser)
	}
	e.mu.Unlock()
	items, p, ok := offsetPage(all, r, 20)
	if !ok {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Invalid limit or cursor.")
		return
	}
	writeJSON(w, http.StatusOK, apitypes.ParserList{Parsers: items, Pagination: p})
}

func (e *Emulator) getParser(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.parsers[r.PathValue("id")]
	if !ok {
		writeErr(w, http.StatusNotFound, apitypes.CodeParserNotFound, "Parser not found.")
		return
	}
	writeJSON(w, http.StatusOK, apitypes.ParserEnvelope{Parser: p.Parser})
}

type parserInput struct {
	Name        *string     `json:"name"`
	Description *string     `json:"description"`
	ResultMode  *string     `json:"result_mode"`
	Fields      *[]fieldDef `json:"fields"`
}

func decodeParserInput(r *http.Request, w http.ResponseWriter) (parserInput, string) {
	var in parserInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&in); err != nil {
		return in, "Malformed JSON body: " + err.Error()
	}
	if in.Name != nil && (strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 100) {
		return in, "name must be 1 to 100 characters."
	}
	if in.ResultMode != nil && *in.ResultMode != "one_per_file" && *in.ResultMode != "one_per_page" {
		return in, "result_mode must be one_per_file or one_per_page."
	}
	if in.Fields != nil {
		for _, f := range *in.Fields {
			if f.Name == "" {
				return in, "every field needs a name."
			}
			if f.Type != "" && !slices.Contains(fieldTypes, f.Type) {
				return in, fmt.Sprintf("field %q: type must be one of %s.", f.Name, strings.Join(fieldTypes, ", "))
			}
		}
	}
	return in, ""
}

func (e *Emulator) nameTaken(name, except string) bool {
	for id, p := range e.parsers {
		if id != except && strings.EqualFold(p.Name, name) {
			return true
		}
	}
	return false
}

func applyFields(p *parser, defs []fieldDef) {
	props := map[string]any{}
	var required []string
	p.Fields = map[string]apitypes.FieldInfo{}
	for _, f := range defs {
		t := f.Type
		if t == "" {
			t = "string"
		}
		prop := map[string]any{"type": t}
		if t == "date" {
			prop = map[string]any{"type": "string", "format": "date"}
		}
		props[f.Name] = prop
		p.Fields[f.Name] = apitypes.FieldInfo{Description: f.Description}
		if f.Required {
			required = append(required, f.Name)
		}
	}
	if len(defs) == 0 {
		p.Schema = json.RawMessage(`{}`)
		p.configured = false
		return
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	p.Schema, _ = json.Marshal(s)
	p.configured = true
}

func (e *Emulator) createParser(w http.ResponseWriter, r *http.Request, _ string) {
	in, msg := decodeParserInput(r, w)
	if msg == "" && in.Name == nil {
		msg = "name is required."
	}
	if msg != "" {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, msg)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nameTaken(*in.Name, "") {
		writeErr(w, http.StatusConflict, apitypes.CodeConflict, fmt.Sprintf("A parser named %q already exists.", *in.Name))
		return
	}
	t := ts(e.now())
	p := &parser{Parser: apitypes.Parser{ParserID: e.nextID("prs"), Name: *in.Name, Description: in.Description,
		ResultMode: "one_per_file", CreatedAt: t, UpdatedAt: t}}
	if in.ResultMode != nil {
		p.ResultMode = *in.ResultMode
	}
	var defs []fieldDef
	if in.Fields != nil {
		defs = *in.Fields
	}
	applyFields(p, defs)
	e.addParser(p)
	writeJSON(w, http.StatusCreated, apitypes.ParserEnvelope{Parser: p.Parser})
}

func (e *Emulator) patchParser(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	_, ok := e.parsers[r.PathValue("id")]
	e.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, apitypes.CodeParserNotFound, "Parser not found.")
		return
	}
	in, msg := decodeParserInput(r, w)
	if msg != "" {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, msg)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.parsers[r.PathValue("id")]
	if in.Name != nil {
		if e.nameTaken(*in.Name, p.ParserID) {
			writeErr(w, http.StatusConflict, apitypes.CodeConflict, fmt.Sprintf("A parser named %q already exists.", *in.Name))
			return
		}
		p.Name = *in.Name
	}
	if in.Description != nil {
		p.Description = in.Description
	}
	if in.ResultMode != nil {
		p.ResultMode = *in.ResultMode
	}
	if in.Fields != nil {
		applyFields(p, *in.Fields)
	}
	p.UpdatedAt = ts(e.now())
	writeJSON(w, http.StatusOK, apitypes.ParserEnvelope{Parser: p.Parser})
}

// detectFields is POST /v1/parsers/:id/detect-fields, in both modes:
// multipart with a sample file, or JSON with a sample_file_id.
func (e *Emulator) detectFields(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	e.mu.Lock()
	p, ok := e.parsers[id]
	e.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, apitypes.CodeParserNotFound, "Parser not found.")
		return
	}
	var sampleID string
	var replace bool
	pages := 0
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Malformed multipart body.")
			return
		}
		var up upload
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Malformed multipart body.")
				return
			}
			switch part.FormName() {
			case "file":
				var m string
				up, m = e.spool(part)
				if up.path != "" {
					defer os.Remove(up.path)
				}
				if m != "" {
					writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, m)
					return
				}
			case "replace_existing_schema":
				b, _ := io.ReadAll(io.LimitReader(part, 16))
				replace = strings.TrimSpace(string(b)) == "true"
			default:
				_, _ = io.Copy(io.Discard, part)
			}
		}
		if up.path == "" {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Missing required field file.")
			return
		}
		a, err := analyse(up.path)
		if errors.Is(err, errUnsupported) {
			writeErr(w, http.StatusBadRequest, apitypes.CodeUnsupportedFileType, "The sample is not a PDF or image.")
			return
		} else if err != nil {
			writeErr(w, http.StatusBadRequest, apitypes.CodePageCountFailed, "Could not count the sample's pages.")
			return
		}
		pages = a.pages
	default:
		var in struct {
			SampleFileID string `json:"sample_file_id"`
			Replace      bool   `json:"replace_existing_schema"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.SampleFileID == "" {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Send a multipart file or a JSON body with sample_file_id.")
			return
		}
		e.mu.Lock()
		n, ok := e.samples[in.SampleFileID]
		e.mu.Unlock()
		if !ok {
			writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Unknown sample_file_id.")
			return
		}
		sampleID, replace, pages = in.SampleFileID, in.Replace, n
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.configured && !replace {
		writeErr(w, http.StatusBadRequest, apitypes.CodeSchemaAlreadyExists,
			"The parser already has a schema; set replace_existing_schema to overwrite it.")
		return
	}
	if e.credits < pages {
		writeErr(w, http.StatusPaymentRequired, apitypes.CodeInsufficientCredits, "Not enough credits for the sample.")
		return
	}
	e.credits -= pages
	e.stats.PagesCharged += pages
	if sampleID == "" {
		sampleID = e.nextID("smp")
		e.samples[sampleID] = pages
	}
	applyFields(p, []fieldDef{
		{Name: "vendor_name", Type: "string"}, {Name: "invoice_number", Type: "string"},
		{Name: "invoice_date", Type: "date"}, {Name: "total_amount", Type: "number"},
	})
	p.HasSampleFile = true
	p.SampleFileID = sampleID
	p.UpdatedAt = ts(e.now())
	writeJSON(w, http.StatusOK, map[string]any{"parser_id": p.ParserID, "sample_file_id": sampleID, "schema": p.Schema})
}
