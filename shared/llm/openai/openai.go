// Package openai is a client for OpenAI-compatible chat completion APIs: OpenAI itself,
// Groq, and local servers such as vLLM, llama.cpp's server and Ollama's /v1 endpoint.
// It asks for structured output with response_format (a JSON schema, strict where the
// model supports it, or JSON mode) and reports truncated output instead of returning it.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
)

// Structured output modes (Config.Format).
const (
	FormatJSONSchema = "json_schema" // response_format json_schema with the request's schema
	FormatJSONObject = "json_object" // JSON mode: any JSON object
	FormatNone       = "none"        // no response_format: rely on the prompt
)

// SchemaName is the name given to the schema in response_format.
const SchemaName = "exercise_analysis"

// Config configures a Client.
type Config struct {
	// Name is the provider's name in results and errors (default "openai"; "groq" for
	// Groq).
	Name string
	// BaseURL is the API root up to and including the version, such as
	// "https://api.openai.com/v1" or "http://localhost:8000/v1"; the client posts to
	// BaseURL + "/chat/completions". Required.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (local servers).
	APIKey string
	// Model is the model name sent with every request. Required.
	Model string
	// Format is how structured output is requested (default FormatJSONSchema).
	Format string
	// Strict asks for strict schema adherence (constrained decoding) in
	// FormatJSONSchema; only some models accept it (OpenAI's, Groq's gpt-oss family).
	Strict bool
	// MaxTokensParam names the output budget parameter: "max_completion_tokens"
	// (OpenAI's current name, also accepted by Groq) or "max_tokens" (default, accepted
	// by every compatible server).
	MaxTokensParam string
	// Temperature, when set, is sent; nil leaves the server's default (reasoning models
	// reject anything else).
	Temperature *float64
	// HTTP sends the requests (nil: a client without a timeout; the caller's context
	// bounds each call).
	HTTP *http.Client
	// Now tells the time rate-limit headers are read against (nil: time.Now).
	Now func() time.Time
}

// Client is an examina.Provider for an OpenAI-compatible API. It is safe for concurrent
// use.
type Client struct {
	cfg   Config
	url   string
	http  llmhttp.Client
	props llmhttp.Once[Props]
}

// New returns a client for cfg. It fails with a KindInvalid error when BaseURL or Model
// is missing or Format is unknown.
func New(cfg Config) (*Client, error) {
	const op = "openai.New"
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.BaseURL == "" {
		return nil, examina.E(op, examina.KindInvalid, "%s: a base URL is required", cfg.Name)
	}
	if cfg.Model == "" {
		return nil, examina.E(op, examina.KindInvalid, "%s: a model is required", cfg.Name)
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatJSONSchema
	case FormatJSONSchema, FormatJSONObject, FormatNone:
	default:
		return nil, examina.E(op, examina.KindInvalid, "%s: unknown response format %q (want %s, %s or %s)",
			cfg.Name, cfg.Format, FormatJSONSchema, FormatJSONObject, FormatNone)
	}
	if cfg.MaxTokensParam == "" {
		cfg.MaxTokensParam = "max_tokens"
	}
	c := &Client{cfg: cfg, url: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions"}
	c.http = llmhttp.Client{Provider: cfg.Name, HTTP: cfg.HTTP, Now: cfg.Now}
	if cfg.APIKey != "" {
		c.http.Secrets = []string{cfg.APIKey}
	}
	return c, nil
}

// Name returns the provider's name.
func (c *Client) Name() string { return c.cfg.Name }

// Model returns the configured model.
func (c *Client) Model() string { return c.cfg.Model }

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Strict bool            `json:"strict,omitempty"`
	Schema json.RawMessage `json:"schema"`
}

type responseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *jsonSchema `json:"json_schema,omitempty"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal string  `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// body renders the request body of req.
func (c *Client) body(req examina.Request) map[string]any {
	msgs := []message{}
	if req.Prompt.System != "" {
		msgs = append(msgs, message{Role: "system", Content: req.Prompt.System})
	}
	for _, t := range req.Turns() {
		msgs = append(msgs, message{Role: t.Role, Content: t.Content})
	}
	b := map[string]any{"model": c.cfg.Model, "messages": msgs, "stream": false}
	if req.MaxTokens > 0 {
		b[c.cfg.MaxTokensParam] = req.MaxTokens
	}
	if c.cfg.Temperature != nil {
		b["temperature"] = *c.cfg.Temperature
	}
	switch {
	case c.cfg.Format == FormatJSONSchema && len(req.Schema) > 0:
		b["response_format"] = responseFormat{Type: "json_schema",
			JSONSchema: &jsonSchema{Name: SchemaName, Strict: c.cfg.Strict, Schema: json.RawMessage(req.Schema)}}
	case c.cfg.Format == FormatJSONObject, c.cfg.Format == FormatJSONSchema:
		b["response_format"] = responseFormat{Type: "json_object"}
	}
	return b
}

// Complete sends one chat completion request. Besides the errors of llmhttp (transport,
// status codes, Groq's json_validate_failed), it returns a truncated error
// (Reason "truncated") with the token counts filled in when finish_reason is "length",
// an invalid-output error for a refusal or an empty answer, and a malformed-response
// error for a body it cannot decode.
func (c *Client) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	h := http.Header{}
	if c.cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	res, err := c.http.PostJSON(ctx, c.url, h, c.body(req))
	out := examina.Response{Model: c.cfg.Model, HTTPStatus: res.Status, RateLimit: res.RateLimit}
	if err != nil {
		return out, err
	}
	var cr chatResponse
	if err := json.Unmarshal(res.Body, &cr); err != nil {
		return out, llmhttp.Malformed(c.cfg.Name, res.Status, fmt.Errorf("decoding chat completion: %w", err))
	}
	if len(cr.Choices) == 0 {
		return out, llmhttp.Malformed(c.cfg.Name, res.Status, errors.New("chat completion without choices"))
	}
	if cr.Model != "" {
		out.Model = cr.Model
	}
	out.InputTokens, out.OutputTokens = cr.Usage.PromptTokens, cr.Usage.CompletionTokens
	ch := cr.Choices[0]
	if ch.FinishReason == "length" {
		return out, llmhttp.Truncated(c.cfg.Name, res.Status, ch.FinishReason)
	}
	if ch.Message.Refusal != "" {
		return out, &examina.ProviderError{Provider: c.cfg.Name, Kind: examina.KindInvalid, HTTPStatus: res.Status,
			Reason: "refusal", Message: "the model refused: " + ch.Message.Refusal}
	}
	if ch.Message.Content == nil || strings.TrimSpace(*ch.Message.Content) == "" {
		return out, &examina.ProviderError{Provider: c.cfg.Name, Kind: examina.KindInvalid, HTTPStatus: res.Status,
			Reason: "invalid_output", Message: "empty answer (finish_reason " + ch.FinishReason + ")"}
	}
	out.Text = *ch.Message.Content
	return out, nil
}
