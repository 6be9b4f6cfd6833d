package examina

import "context"

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
