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
	"strconv"
	"strings"
	"sync/atomic"
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
	StructuredAuto         = ""              // output_config for models documented to support it (StructuredOutputFor), else tool
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
	auto bool // Structured was chosen from the model: a refusal may switch it to tool
	url  string
	http llmhttp.Client
	// tool is set once the API refused output_config for this model: forced tool use
	// from then on.
	tool atomic.Bool
}

// StructuredOutputFor returns the structured output mode of a model: output_config
// for the generations Anthropic documents structured outputs for (Claude 4.5 and
// later: Haiku 4.5, Sonnet 4.5, Opus 4.5, 4.6 ...), forced tool use for the older ones
// (Claude 3, Sonnet 4, Opus 4 and 4.1) and for names it cannot read (an alias behind a
// proxy), since every model supports tool use.
func StructuredOutputFor(model string) string {
	major, minor, ok := generation(model)
	if ok && (major > 4 || major == 4 && minor >= 5) {
		return StructuredOutputConfig
	}
	return StructuredTool
}

// generation reads the version of a model name of the Claude 4 scheme
// ("claude-haiku-4-5", "claude-opus-4-1-20250805", "claude-sonnet-4-20250514", with an
// optional "<region>.anthropic." prefix as on Bedrock): major and minor, minor 0 when
// the next part is a date. Claude 3 names ("claude-3-5-haiku-latest") read as 3.
func generation(model string) (major, minor int, ok bool) {
	name := model
	if i := strings.Index(name, "claude-"); i >= 0 {
		name = name[i+len("claude-"):]
	} else {
		return 0, 0, false
	}
	parts := strings.Split(name, "-")
	if len(parts) > 0 && (parts[0] == "opus" || parts[0] == "sonnet" || parts[0] == "haiku") {
		parts = parts[1:]
	}
	if len(parts) == 0 {
		return 0, 0, false
	}
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return 0, 0, false
	}
	if len(parts) > 1 && len(parts[1]) <= 2 {
		if n, err := strconv.Atoi(parts[1]); err == nil {
			minor = n
		}
	}
	return major, minor, true
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
	auto := cfg.Structured == StructuredAuto
	if auto {
		cfg.Structured = StructuredOutputFor(cfg.Model)
	}
	switch cfg.Structured {
	case StructuredOutputConfig, StructuredTool, StructuredNone:
	default:
		return nil, examina.E(op, examina.KindInvalid, "anthropic: unknown structured output mode %q", cfg.Structured)
	}
	c := &Client{cfg: cfg, auto: auto, url: strings.TrimRight(cfg.BaseURL, "/") + "/v1/messages"}
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
		mode := c.cfg.Structured
		if mode == StructuredOutputConfig && c.tool.Load() {
			mode = StructuredTool
		}
		switch mode {
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
	if err != nil && c.auto && c.cfg.Structured == StructuredOutputConfig && !c.tool.Load() && refusesOutputConfig(err) {
		// The model does not take output_config (an older generation, a proxy that
		// lags the API): forced tool use, for this and every later request.
		c.tool.Store(true)
		res, err = c.http.PostJSON(ctx, c.url, h, c.body(req))
	}
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

// refusesOutputConfig reports whether err is a 400 refusing the output_config
// parameter or structured outputs for the model.
func refusesOutputConfig(err error) bool {
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.HTTPStatus != http.StatusBadRequest {
		return false
	}
	m := strings.ToLower(pe.Message)
	return strings.Contains(m, "output_config") || strings.Contains(m, "output_format") || strings.Contains(m, "structured output")
}
