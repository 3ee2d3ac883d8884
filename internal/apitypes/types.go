// Package apitypes holds the JSON shapes of the PerfectParser public API,
// field for field as documented. The client (internal/api) and the emulator
// (internal/emulator) share these types and nothing else.
package apitypes

import "encoding/json"

// Job (extraction) status values.
const (
	StatusQueued     = "queued"
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusPartial    = "partial"
)

// Error codes documented by the API.
const (
	CodeInvalidPayload      = "INVALID_PAYLOAD"
	CodeParserNotConfigured = "PARSER_NOT_CONFIGURED"
	CodeUnsupportedFileType = "UNSUPPORTED_FILE_TYPE"
	CodePageCountFailed     = "PAGE_COUNT_FAILED"
	CodeSchemaAlreadyExists = "SCHEMA_ALREADY_EXISTS"
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeInsufficientCredits = "INSUFFICIENT_CREDITS"
	CodeParserNotFound      = "PARSER_NOT_FOUND"
	CodeResourceNotFound    = "RESOURCE_NOT_FOUND"
	CodeConflict            = "CONFLICT"
	CodeRateLimited         = "RATE_LIMITED"
)

// Webhook event names.
const (
	EventDocumentCompleted = "extraction.document_completed"
	EventJobCompleted      = "extraction.job_completed"
)

// Header names.
const (
	HeaderAPIKey             = "X-API-Key"
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
	HeaderRateLimit          = "X-RateLimit-Limit"
	HeaderRateRemaining      = "X-RateLimit-Remaining"
	HeaderRateReset          = "X-RateLimit-Reset"
	HeaderSignature          = "X-PerfectParser-Signature"
	HeaderWebhookSecret      = "X-Webhook-Secret"
)

// The documented limits of the API.
const (
	// MaxFilesPerSubmission is the cap on files in one POST /v1/extractions.
	MaxFilesPerSubmission = 50
	// MaxRequestsPerWindow is the cap on requests of any kind per rate window (a minute).
	MaxRequestsPerWindow = 150
	// MaxSubmissionsPerWindow is the cap on POST /v1/extractions per rate window.
	MaxSubmissionsPerWindow = 20
)

// ErrorEnvelope is the error body the emulator sends: {"error": {"code", "message"}}.
type ErrorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inner error object.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Pagination is the list metadata.
type Pagination struct {
	Limit       int     `json:"limit"`
	HasNextPage bool    `json:"has_next_page"`
	NextCursor  *string `json:"next_cursor"`
}

// User is GET /v1/me's `user`.
type User struct {
	UserID           string  `json:"user_id"`
	Email            string  `json:"email"`
	Name             string  `json:"name"`
	CreditsAvailable int     `json:"credits_available"`
	KeyName          string  `json:"key_name"`
	KeyExpiresAt     *string `json:"key_expires_at"`
	MemberSince      string  `json:"member_since"`
}

// UserEnvelope wraps User.
type UserEnvelope struct {
	User User `json:"user"`
}

// Purchase is one credit pack.
type Purchase struct {
	PurchaseID  string  `json:"purchase_id"`
	Plan        string  `json:"plan"`
	Credits     int     `json:"credits"`
	Remaining   int     `json:"remaining"`
	ExpiresAt   *string `json:"expires_at"`
	PurchasedAt string  `json:"purchased_at"`
}

// Credits is GET /v1/credits's `credits`.
type Credits struct {
	Available int        `json:"available"`
	Purchases []Purchase `json:"purchases"`
}

// CreditsEnvelope wraps Credits.
type CreditsEnvelope struct {
	Credits Credits `json:"credits"`
}

// Document is a document as it appears in submit, status, results and
// get-document answers. Fields absent from one answer are left zero.
type Document struct {
	DocumentID       string          `json:"document_id"`
	ExtractionID     string          `json:"extraction_id,omitempty"`
	ParserID         string          `json:"parser_id,omitempty"`
	ParserName       string          `json:"parser_name,omitempty"`
	Filename         string          `json:"filename"`
	FileType         string          `json:"file_type,omitempty"`
	FileSize         int64           `json:"file_size,omitempty"`
	Status           string          `json:"status"`
	PageCount        int             `json:"page_count"`
	CreditsUsed      int             `json:"credits_used"`
	Confidence       *float64        `json:"confidence,omitempty"`
	ProcessingTimeMS *int64          `json:"processing_time_ms,omitempty"`
	ExtractedData    json.RawMessage `json:"extracted_data,omitempty"`
	ErrorMessage     *string         `json:"error_message"`
	CreatedAt        string          `json:"created_at,omitempty"`
	UpdatedAt        string          `json:"updated_at,omitempty"`

	raw json.RawMessage
}

// Raw returns the document exactly as the API sent it (nil for a Document
// built in code), so callers keep fields this build does not know.
func (d Document) Raw() json.RawMessage { return d.raw }

// UnmarshalJSON decodes the document and keeps its raw bytes.
func (d *Document) UnmarshalJSON(b []byte) error {
	type plain Document
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*d = Document(p)
	d.raw = append(json.RawMessage(nil), b...)
	return nil
}

// DocumentEnvelope wraps Document.
type DocumentEnvelope struct {
	Document Document `json:"document"`
}

// DocumentSummary is the per-status count on list items.
type DocumentSummary struct {
	Total      int `json:"total"`
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	Processing int `json:"processing"`
}

// Extraction is a job. Submit answers carry CreditsRemaining; list items
// carry DocumentSummary instead of Documents.
type Extraction struct {
	ExtractionID     string           `json:"extraction_id"`
	ParserID         string           `json:"parser_id"`
	ParserName       string           `json:"parser_name,omitempty"`
	Status           string           `json:"status"`
	FileCount        int              `json:"file_count"`
	PageCount        int              `json:"page_count"`
	CreditsUsed      int              `json:"credits_used"`
	CreditsRemaining *int             `json:"credits_remaining,omitempty"`
	CreatedAt        string           `json:"created_at,omitempty"`
	UpdatedAt        string           `json:"updated_at,omitempty"`
	CompletedAt      *string          `json:"completed_at"`
	DocumentSummary  *DocumentSummary `json:"document_summary,omitempty"`
	Documents        []Document       `json:"documents,omitempty"`
}

// SubmittedDocument is a document in the 202 answer to a submission.
type SubmittedDocument struct {
	DocumentID  string `json:"document_id"`
	Filename    string `json:"filename"`
	PageCount   int    `json:"page_count"`
	CreditsUsed int    `json:"credits_used"`
	Status      string `json:"status"`
}

// Submitted is the `extraction` of the 202 answer to POST /v1/extractions.
type Submitted struct {
	ExtractionID     string              `json:"extraction_id"`
	ParserID         string              `json:"parser_id"`
	Status           string              `json:"status"`
	FileCount        int                 `json:"file_count"`
	PageCount        int                 `json:"page_count"`
	CreditsUsed      int                 `json:"credits_used"`
	CreditsRemaining int                 `json:"credits_remaining"`
	Documents        []SubmittedDocument `json:"documents"`
}

// SubmittedEnvelope wraps Submitted.
type SubmittedEnvelope struct {
	Extraction Submitted `json:"extraction"`
}

// ExtractionEnvelope wraps Extraction.
type ExtractionEnvelope struct {
	Extraction Extraction `json:"extraction"`
}

// ExtractionList is GET /v1/extractions.
type ExtractionList struct {
	Extractions []Extraction `json:"extractions"`
	Pagination  Pagination   `json:"pagination"`
}

// FieldInfo is one entry of a parser's `fields` map.
type FieldInfo struct {
	Description string `json:"description"`
}

// Parser is a parser object.
type Parser struct {
	ParserID      string               `json:"parser_id"`
	Name          string               `json:"name"`
	Description   *string              `json:"description"`
	ResultMode    string               `json:"result_mode"`
	Schema        json.RawMessage      `json:"schema"`
	Fields        map[string]FieldInfo `json:"fields"`
	HasSampleFile bool                 `json:"has_sample_file"`
	SampleFileID  string               `json:"sample_file_id,omitempty"`
	CreatedAt     string               `json:"created_at"`
	UpdatedAt     string               `json:"updated_at"`
}

// ParserEnvelope wraps Parser.
type ParserEnvelope struct {
	Parser Parser `json:"parser"`
}

// ParserList is GET /v1/parsers.
type ParserList struct {
	Parsers    []Parser   `json:"parsers"`
	Pagination Pagination `json:"pagination"`
}

// Webhook is a webhook subscription. SigningSecret is only set in the create answer.
type Webhook struct {
	WebhookID     string   `json:"webhook_id"`
	URL           string   `json:"url"`
	Events        []string `json:"events"`
	IsActive      bool     `json:"is_active"`
	CreatedAt     string   `json:"created_at"`
	SigningSecret string   `json:"signing_secret,omitempty"`
	// Deliveries is the last 10 delivery attempts (GET /v1/webhooks/:id only).
	Deliveries []WebhookDelivery `json:"deliveries,omitempty"`
}

// WebhookDelivery is one delivery attempt as the emulator reports it. The
// real API's field names for this list are not documented.
type WebhookDelivery struct {
	EventID    string `json:"event_id"`
	Event      string `json:"event"`
	Attempt    int    `json:"attempt"`
	StatusCode int    `json:"status_code"`
	Error      string `json:"error,omitempty"`
	At         string `json:"at"`
}

// WebhookEnvelope wraps Webhook.
type WebhookEnvelope struct {
	Webhook Webhook `json:"webhook"`
}

// WebhookList is GET /v1/webhooks.
type WebhookList struct {
	Webhooks   []Webhook  `json:"webhooks"`
	Pagination Pagination `json:"pagination"`
}

// WebhookCreate is the POST /v1/webhooks body.
type WebhookCreate struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret,omitempty"`
}

// WebhookUpdate is the PATCH /v1/webhooks/:id body; nil fields are left alone.
type WebhookUpdate struct {
	URL      *string  `json:"url,omitempty"`
	Events   []string `json:"events,omitempty"`
	IsActive *bool    `json:"is_active,omitempty"`
}

// WebhookPayload is the emulator's callback body (the real shape is not documented).
type WebhookPayload struct {
	EventID      string `json:"event_id"`
	Event        string `json:"event"`
	CreatedAt    string `json:"created_at"`
	ExtractionID string `json:"extraction_id"`
	ParserID     string `json:"parser_id"`
	Status       string `json:"status"`
	DocumentID   string `json:"document_id,omitempty"`
	Test         bool   `json:"test,omitempty"`
}

// TimeFormat is the API's timestamp layout: ISO 8601 UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"
