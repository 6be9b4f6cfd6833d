// Package ollama is a client for Ollama's native chat API (POST /api/chat) with
// stream false and format set to the analysis JSON schema, so the local model's output
// is constrained to it. A done_reason of "length" is reported as truncated output.
package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
)

// DefaultHost is Ollama's default address, used when OLLAMA_HOST is unset.
const DefaultHost = "http://127.0.0.1:11434"

// Config configures a Client.
type Config struct {
	// Host is Ollama's address as in OLLAMA_HOST: "http://host:port", "host:port" or
	// "host" (default DefaultHost; port 11434 when omitted).
	Host string
	// Model is the model name, such as "qwen3:8b". Required.
	Model string
	// Temperature, when set, is sent in options.
	Temperature *float64
	// KeepAlive, when set, is sent as keep_alive (e.g. "10m").
	KeepAlive string
	// HTTP sends the requests (nil: a client without a timeout).
	HTTP *http.Client
}

// Client is an examina.Provider for Ollama, safe for concurrent use.
type Client struct {
	cfg     Config
	base    string
	url     string
	http    llmhttp.Client
	show    llmhttp.Once[modelInfo]
	noThink atomic.Bool // the server refused "think": never send it again
}

// modelInfo is what POST /api/show says about the model.
type modelInfo struct {
	contextTokens int  // num_ctx of the model's parameters, else its context_length
	thinking      bool // "thinking" among its capabilities
}

// New returns a client for cfg; a KindInvalid error when the model is missing.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, examina.E("ollama.New", examina.KindInvalid, "ollama: a model is required")
	}
	base, err := HostURL(cfg.Host)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: base, url: base + "/api/chat", http: llmhttp.Client{Provider: "ollama", HTTP: cfg.HTTP}}, nil
}

// HostURL normalises an OLLAMA_HOST value into a base URL without a trailing slash:
// scheme http unless given, port 11434 unless given, 0.0.0.0 dialled as 127.0.0.1. It
// returns a KindInvalid error for a value that is not an http(s) address.
func HostURL(host string) (string, error) {
	host = strings.TrimRight(strings.TrimSpace(host), "/")
	if host == "" {
		return DefaultHost, nil
	}
	orig := host
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	scheme, rest, _ := strings.Cut(host, "://")
	hostport, path, _ := strings.Cut(rest, "/")
	if !strings.Contains(strings.TrimPrefix(hostport, "["), ":") || strings.HasSuffix(hostport, "]") {
		hostport += ":11434"
	}
	if hostport == "0.0.0.0:11434" || strings.HasPrefix(hostport, "0.0.0.0:") {
		// OLLAMA_HOST=0.0.0.0 makes the server listen everywhere; a client dials localhost.
		hostport = "127.0.0.1" + strings.TrimPrefix(hostport, "0.0.0.0")
	}
	u := scheme + "://" + hostport
	if path != "" {
		u += "/" + path
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.Port() == "" || pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil {
		return "", examina.E("ollama.HostURL", examina.KindInvalid, "OLLAMA_HOST %q is not an http(s) address", orig)
	}
	return u, nil
}

// Name returns "ollama".
func (c *Client) Name() string { return "ollama" }

// Model returns the configured model.
func (c *Client) Model() string { return c.cfg.Model }

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Message struct {
		Content  string `json:"content"`
		Thinking string `json:"thinking"`
	} `json:"message"`
	Done            bool   `json:"done"`
	DoneReason      string `json:"done_reason"`
	PromptEvalCount int    `json:"prompt_eval_count"`
	EvalCount       int    `json:"eval_count"`
}

// Complete sends one chat request. Besides llmhttp's errors (404 for a model that is
// not pulled is permanent), it returns a truncated error when done_reason is "length",
// an invalid-output error for an empty answer and a malformed-response error for a body
// it cannot decode.
func (c *Client) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	msgs := []message{}
	if req.Prompt.System != "" {
		msgs = append(msgs, message{"system", req.Prompt.System})
	}
	for _, t := range req.Turns() {
		msgs = append(msgs, message{t.Role, t.Content})
	}
	options := map[string]any{}
	if req.MaxTokens > 0 {
		options["num_predict"] = req.MaxTokens
	}
	if c.cfg.Temperature != nil {
		options["temperature"] = *c.cfg.Temperature
	}
	body := map[string]any{"model": c.cfg.Model, "messages": msgs, "stream": false, "options": options}
	if len(req.Schema) > 0 {
		body["format"] = json.RawMessage(req.Schema)
	} else {
		body["format"] = "json"
	}
	if c.cfg.KeepAlive != "" {
		body["keep_alive"] = c.cfg.KeepAlive
	}
	// A thinking model (qwen3, deepseek-r1, ...) thinks by default and can spend the
	// whole output budget on it: think false turns it off where the model has the
	// capability (a model without it refuses the field).
	if info, _ := c.info(ctx); info.thinking && !c.noThink.Load() {
		body["think"] = false
	}
	res, err := c.http.PostJSON(ctx, c.url, nil, body)
	if err != nil && body["think"] != nil && refusesThink(err) {
		c.noThink.Store(true)
		delete(body, "think")
		res, err = c.http.PostJSON(ctx, c.url, nil, body)
	}
	out := examina.Response{Model: c.cfg.Model, HTTPStatus: res.Status}
	if err != nil {
		return out, err
	}
	var cr chatResponse
	if err := json.Unmarshal(res.Body, &cr); err != nil {
		return out, llmhttp.Malformed("ollama", res.Status, fmt.Errorf("decoding chat response: %w", err))
	}
	if cr.Model != "" {
		out.Model = cr.Model
	}
	out.InputTokens, out.OutputTokens = cr.PromptEvalCount, cr.EvalCount
	if cr.DoneReason == "length" {
		return out, llmhttp.Truncated("ollama", res.Status, cr.DoneReason)
	}
	if strings.TrimSpace(cr.Message.Content) == "" {
		msg := "empty answer (done_reason " + cr.DoneReason + ")"
		if cr.Message.Thinking != "" {
			msg = fmt.Sprintf("the model only thought (%d characters) and gave no answer (done_reason %s)", len(cr.Message.Thinking), cr.DoneReason)
		}
		return out, &examina.ProviderError{Provider: "ollama", Kind: examina.KindInvalid, HTTPStatus: res.Status,
			Reason: "invalid_output", Message: msg}
	}
	out.Text = cr.Message.Content
	return out, nil
}

// refusesThink reports whether err is Ollama's 400 for a think field the model does not
// support ("... does not support thinking").
func refusesThink(err error) bool {
	var pe *examina.ProviderError
	return errors.As(err, &pe) && pe.HTTPStatus == http.StatusBadRequest && strings.Contains(pe.Message, "does not support thinking")
}

// ContextWindow returns the tokens one request may use on the model, from POST
// /api/show: the num_ctx its parameters set, else the model's context_length (an upper
// bound: the server may run it with a smaller OLLAMA_CONTEXT_LENGTH).
func (c *Client) ContextWindow(ctx context.Context) (int, bool) {
	info, ok := c.info(ctx)
	return info.contextTokens, ok && info.contextTokens > 0
}

// info asks POST /api/show once (again after a transient failure).
func (c *Client) info(ctx context.Context) (modelInfo, bool) {
	return c.show.Get(ctx, func(ctx context.Context) (modelInfo, bool, bool) {
		res, err := c.http.PostJSON(ctx, c.base+"/api/show", nil, map[string]any{"model": c.cfg.Model})
		if err != nil {
			return modelInfo{}, false, llmhttp.Final(err)
		}
		ctxTokens, thinking, err := ParseShow(res.Body)
		if err != nil {
			return modelInfo{}, false, true
		}
		return modelInfo{contextTokens: ctxTokens, thinking: thinking}, true, true
	})
}

// ParseShow reads an /api/show answer: the context window (the num_ctx its
// parameters set, else the model's <arch>.context_length; 0 when neither) and whether
// "thinking" is among its capabilities. It fails only for a body that is not a JSON
// object.
func ParseShow(body []byte) (contextTokens int, thinking bool, err error) {
	var show struct {
		Parameters   string                     `json:"parameters"`
		ModelInfo    map[string]json.RawMessage `json:"model_info"`
		Capabilities []string                   `json:"capabilities"`
	}
	if err := json.Unmarshal(body, &show); err != nil {
		return 0, false, fmt.Errorf("ollama: decoding /api/show: %w", err)
	}
	thinking = slices.Contains(show.Capabilities, "thinking")
	for line := range strings.Lines(show.Parameters) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "num_ctx" {
			if n, err := strconv.Atoi(f[1]); err == nil && n > 0 {
				contextTokens = n
			}
		}
	}
	if contextTokens == 0 {
		for k, v := range show.ModelInfo {
			var n int
			if strings.HasSuffix(k, ".context_length") && json.Unmarshal(v, &n) == nil && n > 0 {
				contextTokens = max(contextTokens, n)
			}
		}
	}
	return contextTokens, thinking, nil
}

// compile-time check.
var _ examina.Provider = (*Client)(nil)
