package examina

import (
	"context"
	"time"
)

// Prompt is a rendered, versioned prompt.
type Prompt struct {
	Version string `json:"version"`
	System  string `json:"system"`
	User    string `json:"user"`
}

// Request is one analysis call. Providers that talk to an LLM send Prompt (and Schema
// where they support structured output); the offline and simulated providers may read
// the raw fields instead.
type Request struct {
	Prompt    Prompt
	Schema    []byte // JSON schema of the expected analysis object
	MaxTokens int    // output budget
	// Repair, when set, is the validation error of the previous attempt's output; the
	// provider includes it so the model can fix its answer.
	Repair string

	JobID    string
	Course   Course
	Language string // output language: "en" or "it"
	Exercise Exercise
	Previous string // text of the previous exercise, "" for the first
}

// Response is a provider's raw answer.
type Response struct {
	Text         string
	Model        string
	InputTokens  int
	OutputTokens int
	HTTPStatus   int
	Heuristic    bool // produced by a heuristic, not a model
	// RateLimit is what the response's headers said about the remaining rate-limit
	// budget, nil when they said nothing. Gates use it to slow down before a 429.
	RateLimit *RateLimitInfo
}

// RateLimitInfo is the rate-limit budget a provider announced in a response's headers
// (x-ratelimit-*, anthropic-ratelimit-*). A count is -1 and a reset 0 when unknown.
type RateLimitInfo struct {
	RemainingRequests int
	RemainingTokens   int
	// ResetRequests and ResetTokens are how long until the budget is replenished,
	// relative to when the response was received.
	ResetRequests time.Duration
	ResetTokens   time.Duration
}

// Provider produces the raw text of an analysis for one request.
//
// Complete returns a *ProviderError for every failure it can classify: transient ones
// (timeouts, 429, 5xx) with RetryAfter when the server asked for a wait, permanent ones
// (400, 401, 403, 404), and Reason "truncated" when the output hit the token budget.
// It never retries by itself: the retry layer above decides.
type Provider interface {
	Name() string
	Model() string
	Complete(ctx context.Context, req Request) (Response, error)
}
