package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
)

// Props is what a local server says about itself. A field is 0 when unknown.
type Props struct {
	// ContextTokens is how many tokens one request (prompt plus output) may use:
	// llama-server's per-slot context (/props default_generation_settings.n_ctx, the
	// server's -c divided by its slots), vLLM's max_model_len (/v1/models).
	ContextTokens int
	// Slots is how many requests the server decodes at once (llama-server's /props
	// total_slots); more are queued, never refused.
	Slots int
}

// hosted are the APIs known to have no /props: they are never asked.
var hosted = []string{"api.openai.com", "api.groq.com"}

// ServerProps asks the server once for its Props: llama.cpp's llama-server GET /props
// (at the server's root, beside /v1), then GET /v1/models for vLLM's max_model_len.
// ok is false when the server says nothing (OpenAI, Groq and servers without these
// endpoints); a server that cannot be reached is asked again on the next call.
func (c *Client) ServerProps(ctx context.Context) (Props, bool) {
	return c.props.Get(ctx, c.fetchProps)
}

// ContextWindow returns Props.ContextTokens when the server reports it.
func (c *Client) ContextWindow(ctx context.Context) (int, bool) {
	p, ok := c.ServerProps(ctx)
	return p.ContextTokens, ok && p.ContextTokens > 0
}

// Slots returns Props.Slots when the server reports it.
func (c *Client) Slots(ctx context.Context) (int, bool) {
	p, ok := c.ServerProps(ctx)
	return p.Slots, ok && p.Slots > 0
}

func (c *Client) fetchProps(ctx context.Context) (Props, bool, bool) {
	base := strings.TrimRight(c.cfg.BaseURL, "/")
	if u, err := url.Parse(base); err != nil || isHosted(u.Hostname()) {
		return Props{}, false, true
	}
	h := http.Header{}
	if c.cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	var p Props
	root := strings.TrimSuffix(base, "/v1")
	res, err := c.http.GetJSON(ctx, root+"/props", h)
	if !llmhttp.Final(err) {
		return Props{}, false, false
	}
	if err == nil {
		p, _ = ParseProps(res.Body)
	}
	if p.ContextTokens == 0 {
		res, err := c.http.GetJSON(ctx, base+"/models", h)
		if !llmhttp.Final(err) {
			return Props{}, false, false
		}
		var models struct {
			Data []struct {
				ID          string `json:"id"`
				MaxModelLen int    `json:"max_model_len"`
			} `json:"data"`
		}
		if err == nil && json.Unmarshal(res.Body, &models) == nil {
			for _, m := range models.Data {
				if m.ID == c.cfg.Model || len(models.Data) == 1 {
					p.ContextTokens = max(m.MaxModelLen, 0)
				}
			}
		}
	}
	return p, p.ContextTokens > 0 || p.Slots > 0, true
}

func isHosted(host string) bool {
	for _, h := range hosted {
		if host == h {
			return true
		}
	}
	return false
}

// ParseProps reads llama-server's GET /props answer: default_generation_settings.n_ctx
// (the context of one slot) and total_slots. Negative numbers read as 0 (unknown); it
// fails only for a body that is not a JSON object of that shape.
func ParseProps(body []byte) (Props, error) {
	var props struct {
		TotalSlots int `json:"total_slots"`
		Defaults   struct {
			NCtx int `json:"n_ctx"`
		} `json:"default_generation_settings"`
	}
	if err := json.Unmarshal(body, &props); err != nil {
		return Props{}, fmt.Errorf("decoding /props: %w", err)
	}
	return Props{ContextTokens: max(props.Defaults.NCtx, 0), Slots: max(props.TotalSlots, 0)}, nil
}
