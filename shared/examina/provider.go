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
	// Rejected is the previous attempt's answer that Repair is about ("" when the
	// provider gave no text, e.g. a refusal). Providers send it as the assistant's turn
	// before the repair, so roles alternate as chat templates require: see Turns.
	Rejected string

	JobID    string
	Course   Course
	Language string // output language: "en" or "it"
	Exercise Exercise
	Previous string // text of the previous exercise, "" for the first
}

// Turn is one message of the conversation after the system prompt.
type Turn struct {
	Role    string // RoleUser or RoleAssistant
	Content string
}

// Conversation roles of a Turn.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Turns returns the conversation of r after its system prompt, roles alternating and
// the last turn the user's: [user] for a first attempt, [user, assistant (the rejected
// answer), user (the repair)] for a repair with a rejected answer, and [user (prompt and
// repair)] for a repair without one. Chat templates such as Llama-2's, Mistral's and
// Gemma's, and Anthropic's and Bedrock's APIs, refuse two user turns in a row.
func (r Request) Turns() []Turn {
	switch {
	case r.Repair == "":
		return []Turn{{RoleUser, r.Prompt.User}}
	case r.Rejected == "":
		return []Turn{{RoleUser, r.Prompt.User + "\n\n" + r.Repair}}
	}
	return []Turn{{RoleUser, r.Prompt.User}, {RoleAssistant, r.Rejected}, {RoleUser, r.Repair}}
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
