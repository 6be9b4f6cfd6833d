// Package anthropic is a client for Anthropic's Messages API (POST /v1/messages). It
// asks for structured output with output_config.format (a JSON schema) on models that
// support it, or a forced tool call whose input is the analysis on older ones, sends
// the configured anthropic-version, and reports max_tokens stops as truncated output.
package anthropic

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

// Defaults.
const (
	DefaultBaseURL = "https://api.anthropic.com"
	DefaultVersion = "2023-06-01"
	// NoSamplingVersion is the first API version that rejects temperature, top_p and
	// top_k; from it on the client never sends them.
	NoSamplingVersion = "2026-10-21"
)

// Structured output modes (Config.Structured).
const (
	StructuredAuto         = ""              // output_config unless the model is a Claude 3 one, then tool
	StructuredOutputConfig = "output_config" // output_config.format = {type: json_schema, schema}
	StructuredTool         = "tool"          // a tool whose input_schema is the schema, forced by tool_choice
	StructuredNone         = "none"          // the prompt alone
)

// ToolName is the forced tool's name in StructuredTool mode.
const ToolName = "record_analysis"

// Config configures a Client.
type Config struct {
	// BaseURL is the API root (default DefaultBaseURL); the client posts to
	// BaseURL + "/v1/messages".
	BaseURL string
	// APIKey is sent as x-api-key. Required.
	APIKey string
	// Model is the model name. Required.
	Model string
	// Version is the anthropic-version header (default DefaultVersion).
	Version string
	// Structured is the structured output mode (default StructuredAuto).
	Structured string
	// Temperature, when set, is sent under versions before NoSamplingVersion.
	Temperature *float64
	// HTTP sends the requests (nil: a client without a timeout).
	HTTP *http.Client
	// Now tells the time rate-limit resets are measured from (nil: time.Now).
	Now func() time.Time
}

// Client is an examina.Provider for the Messages API, safe for concurrent use.
type Client struct {
	cfg  Config
	url  string
	http llmhttp.Client
}

// New returns a client for cfg; a KindInvalid error when the key or model is missing
// or the structured mode unknown.
func New(cfg Config) (*Client, error) {
	const op = "anthropic.New"
	if cfg.APIKey == "" {
		return nil, examina.E(op, examina.KindInvalid, "anthropic: an API key is required (ANTHROPIC_API_KEY)")
	}
	if cfg.Model == "" {
		return nil, examina.E(op, examina.KindInvalid, "anthropic: a model is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Structured == StructuredAuto {
		cfg.Structured = StructuredOutputConfig
		if strings.HasPrefix(cfg.Model, "claude-3") {
			cfg.Structured = StructuredTool
		}
	}
	switch cfg.Structured {
	case StructuredOutputConfig, StructuredTool, StructuredNone:
	default:
		return nil, examina.E(op, examina.KindInvalid, "anthropic: unknown structured output mode %q", cfg.Structured)
	}
	c := &Client{cfg: cfg, url: strings.TrimRight(cfg.BaseURL, "/") + "/v1/messages"}
	c.http = llmhttp.Client{Provider: "anthropic", HTTP: cfg.HTTP, Now: cfg.Now, Secrets: []string{cfg.APIKey}}
	return c, nil
}

// Name returns "anthropic".
func (c *Client) Name() string { return "anthropic" }

// Model returns the configured model.
func (c *Client) Model() string { return c.cfg.Model }

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type messagesResponse struct {
	Model   string `json:"model"`
	Content []struct {
		Type  string          `json:"type"`
		Text  string          `json:"text"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
	Usage      struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

func (c *Client) body(req examina.Request) map[string]any {
	// Messages must alternate: the rejected answer is the assistant's turn before the
	// repair instruction.
	var msgs []message
	for _, t := range req.Turns() {
		msgs = append(msgs, message{Role: t.Role, Content: t.Content})
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = 1024
	}
	b := map[string]any{"model": c.cfg.Model, "max_tokens": maxTokens, "messages": msgs}
	if req.Prompt.System != "" {
		b["system"] = req.Prompt.System
	}
	if c.cfg.Temperature != nil && c.cfg.Version < NoSamplingVersion {
		b["temperature"] = *c.cfg.Temperature
	}
	if len(req.Schema) > 0 {
		switch c.cfg.Structured {
		case StructuredOutputConfig:
			b["output_config"] = map[string]any{"format": map[string]any{"type": "json_schema", "schema": json.RawMessage(req.Schema)}}
		case StructuredTool:
			b["tools"] = []any{map[string]any{"name": ToolName, "description": "Record the analysis of the exercise.",
				"input_schema": json.RawMessage(req.Schema)}}
			b["tool_choice"] = map[string]any{"type": "tool", "name": ToolName}
		}
	}
	return b
}

// Complete sends one Messages request. Besides llmhttp's errors (429 with the
// anthropic-ratelimit-* resets, 529 overloaded_error, the spend-limit 429 as
// permanent), it returns a truncated error with the tokens filled in when stop_reason is
// "max_tokens", an invalid-output error for a refusal or an answer without text or
// tool input, and a malformed-response error for a body it cannot decode.
func (c *Client) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	h := http.Header{}
	h.Set("x-api-key", c.cfg.APIKey)
	h.Set("anthropic-version", c.cfg.Version)
	res, err := c.http.PostJSON(ctx, c.url, h, c.body(req))
	out := examina.Response{Model: c.cfg.Model, HTTPStatus: res.Status, RateLimit: res.RateLimit}
	if err != nil {
		return out, err
	}
	var mr messagesResponse
	if err := json.Unmarshal(res.Body, &mr); err != nil {
		return out, llmhttp.Malformed("anthropic", res.Status, fmt.Errorf("decoding message: %w", err))
	}
	if mr.Model != "" {
		out.Model = mr.Model
	}
	out.InputTokens, out.OutputTokens = mr.Usage.InputTokens, mr.Usage.OutputTokens
	switch mr.StopReason {
	case "max_tokens", "model_context_window_exceeded":
		return out, llmhttp.Truncated("anthropic", res.Status, mr.StopReason)
	case "refusal":
		return out, &examina.ProviderError{Provider: "anthropic", Kind: examina.KindInvalid, HTTPStatus: res.Status,
			Reason: "refusal", Message: "the model refused to answer"}
	}
	var text strings.Builder
	for _, b := range mr.Content {
		switch {
		case b.Type == "tool_use" && b.Name == ToolName && len(b.Input) > 0:
			out.Text = string(b.Input)
			return out, nil
		case b.Type == "text":
			text.WriteString(b.Text)
		}
	}
	if strings.TrimSpace(text.String()) == "" {
		if mr.Content == nil && mr.StopReason == "" {
			return out, llmhttp.Malformed("anthropic", res.Status, errors.New("message without content"))
		}
		return out, &examina.ProviderError{Provider: "anthropic", Kind: examina.KindInvalid, HTTPStatus: res.Status,
			Reason: "invalid_output", Message: "empty answer (stop_reason " + mr.StopReason + ")"}
	}
	out.Text = text.String()
	return out, nil
}
