// Package fakeopenai is a fake OpenAI-compatible chat completions server for tests and
// benchmarks: canned answers, latency, an API key check, and a rate limit of N requests
// per window answered with 429 and retry-after, time-scaled so a 60 s window can last
// one second. It records every request so tests can assert what clients sent.
package fakeopenai

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Answer is one canned reply.
type Answer struct {
	// Status is the HTTP status (default 200).
	Status int
	// Content is the assistant message of a 200 (default: a valid analysis).
	Content string
	// FinishReason of a 200 (default "stop"; "length" for truncated output).
	FinishReason string
	// Body, when set, is sent verbatim instead of a rendered body (errors, malformed
	// JSON).
	Body string
	// Header holds extra response headers.
	Header http.Header
	// Delay is added to the server's Latency before answering.
	Delay time.Duration
	// InputTokens and OutputTokens are the usage reported (defaults 100 and 50).
	InputTokens, OutputTokens int
}

// Config configures a Server.
type Config struct {
	// Answers are served in order, one per request that passes the rate limit; when
	// they run out the last one repeats. Empty: always a valid analysis.
	Answers []Answer
	// Respond, when set, chooses the answer for the n-th (0-based) admitted request
	// instead of Answers. It is called with the server's lock held, before the rate
	// limits are checked (the answer's usage counts against TokenLimit), so also for
	// requests then refused with 429; it must not call the server.
	Respond func(n int, r Request) Answer
	// Latency delays every admitted answer.
	Latency time.Duration
	// Limit is the number of requests admitted per Window (0: unlimited). Requests
	// beyond it get 429 with retry-after (whole seconds, rounded up), retry-after-ms,
	// x-ratelimit-remaining-requests 0 and x-ratelimit-reset-requests.
	Limit int
	// TokenLimit is the number of tokens admitted per Window (0: unlimited), counted
	// by the answers' usage (input plus output): a request whose answer would exceed
	// it gets 429 with x-ratelimit-remaining-tokens and x-ratelimit-reset-tokens.
	TokenLimit int
	// Window is the rate-limit window (default one minute). A window starts with the
	// first request after the previous one ended.
	Window time.Duration
	// APIKey, when set, must arrive as "Authorization: Bearer <key>"; otherwise 401.
	APIKey string
	// Model is reported in answers (default: the requested model).
	Model string
	// Now tells the time (nil: time.Now).
	Now func() time.Time
	// Props, when set, is served at GET /props as llama-server does (its per-slot
	// context and slot count); nil answers 404 like OpenAI. Metadata requests (GET
	// /props, /v1/models) are counted by MetadataRequests, not recorded in Requests.
	Props *Props
}

// Props is what GET /props reports, in llama-server's shape.
type Props struct {
	NCtx       int // default_generation_settings.n_ctx: tokens per request (per slot)
	TotalSlots int // total_slots: requests decoded at once
}

// Request is a recorded request.
type Request struct {
	At      time.Time
	Method  string
	Path    string
	Header  http.Header
	Body    []byte
	Model   string         // the request's "model"
	Payload map[string]any // the decoded body, nil if it was not JSON
	Status  int            // the status answered
}

// Stats counts what the server answered.
type Stats struct {
	Requests int // all requests
	Admitted int // requests that passed the rate limit and the key check
	Limited  int // requests answered 429 by the rate limit
}

// Handler is the fake API as an http.Handler, serving POST /v1/chat/completions (and
// /chat/completions).
type Handler struct {
	cfg Config

	mu          sync.Mutex
	meta        int
	reqs        []Request
	admitted    int
	limited     int
	windowStart time.Time
	inWindow    int
	tokensIn    int // tokens of the current window
}

// NewHandler returns the fake API as a handler.
func NewHandler(cfg Config) *Handler {
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Server is a Handler served by an httptest.Server.
type Server struct {
	*httptest.Server
	*Handler
}

// New starts a fake server; Close it when done. Its BaseURL is URL + "/v1".
func New(cfg Config) *Server {
	h := NewHandler(cfg)
	return &Server{Server: httptest.NewServer(h), Handler: h}
}

// BaseURL is the OpenAI-style base URL of the server ("http://127.0.0.1:port/v1").
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Close shuts the server down.
func (s *Server) Close() { s.Server.Close() }

// Requests returns a copy of the recorded requests, in arrival order.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}

// Stats returns the counts so far.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Requests: len(h.reqs), Admitted: h.admitted, Limited: h.limited}
}

// MetadataRequests is the number of GET /props and /models requests so far.
func (h *Handler) MetadataRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.meta
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && (r.URL.Path == "/props" || r.URL.Path == "/v1/models" || r.URL.Path == "/models") {
		h.mu.Lock()
		h.meta++
		h.mu.Unlock()
		if r.URL.Path != "/props" || h.cfg.Props == nil {
			writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "Unknown request URL: "+r.Method+" "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"default_generation_settings": map[string]any{"n_ctx": h.cfg.Props.NCtx},
			"total_slots":                 h.cfg.Props.TotalSlots,
		})
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := Request{At: h.cfg.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	if err := json.Unmarshal(body, &rec.Payload); err == nil {
		rec.Model, _ = rec.Payload["model"].(string)
	}
	status, _, wait, remaining, a := h.admit(r, rec)
	h.mu.Lock()
	rec.Status = status
	idx := len(h.reqs)
	h.reqs = append(h.reqs, rec)
	h.mu.Unlock()
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		writeError(w, status, "invalid_request_error", "unknown_url", "Unknown request URL: "+r.Method+" "+r.URL.Path)
		return
	case http.StatusUnauthorized:
		writeError(w, status, "invalid_request_error", "invalid_api_key", "Invalid API Key")
		return
	case http.StatusTooManyRequests:
		if h.cfg.Limit > 0 {
			setLimitHeaders(w.Header(), h.cfg.Limit, remaining, wait)
		}
		h.setTokenHeaders(w.Header(), wait)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
		writeError(w, status, "requests", "rate_limit_exceeded",
			fmt.Sprintf("Rate limit reached for model `%s`: Limit %d, Used %d, Requested 1. Please try again in %s.", rec.Model, h.cfg.Limit, h.cfg.Limit, wait))
		return
	}
	h.mu.Lock()
	h.reqs[idx].Status = max(a.Status, 200)
	h.mu.Unlock()
	if d := h.cfg.Latency + a.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	// The resets are relative to when the answer leaves, as a real server's are.
	h.mu.Lock()
	reset := max(h.windowStart.Add(h.cfg.Window).Sub(h.cfg.Now()), 0)
	h.mu.Unlock()
	if h.cfg.Limit > 0 {
		setLimitHeaders(w.Header(), h.cfg.Limit, remaining, reset)
	}
	h.setTokenHeaders(w.Header(), reset)
	for k, vs := range a.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	if a.Body != "" {
		io.WriteString(w, a.Body)
		return
	}
	model := h.cfg.Model
	if model == "" {
		model = rec.Model
	}
	json.NewEncoder(w).Encode(completion(model, a))
}

// admit applies the route, key and rate-limit checks, and chooses the answer of an
// admitted request (its usage counts against TokenLimit). n is the admitted request's
// index; wait is how long until the current window ends; remaining is what is left of
// the request limit in it.
func (h *Handler) admit(r *http.Request, rec Request) (status, n int, wait time.Duration, remaining int, a Answer) {
	now := rec.At
	if r.URL.Path != "/v1/chat/completions" && r.URL.Path != "/chat/completions" {
		return http.StatusNotFound, 0, 0, 0, a
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, 0, 0, 0, a
	}
	if h.cfg.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+h.cfg.APIKey {
		return http.StatusUnauthorized, 0, 0, 0, a
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a = h.answer(h.admitted, rec)
	if h.cfg.Limit > 0 || h.cfg.TokenLimit > 0 {
		if h.windowStart.IsZero() || !now.Before(h.windowStart.Add(h.cfg.Window)) {
			h.windowStart, h.inWindow, h.tokensIn = now, 0, 0
		}
		wait = h.windowStart.Add(h.cfg.Window).Sub(now)
		remaining = max(h.cfg.Limit-h.inWindow, 0)
		if h.cfg.Limit > 0 && h.inWindow >= h.cfg.Limit {
			h.limited++
			return http.StatusTooManyRequests, 0, wait, 0, a
		}
		if h.cfg.TokenLimit > 0 && h.tokensIn+a.InputTokens+a.OutputTokens > h.cfg.TokenLimit {
			h.limited++
			return http.StatusTooManyRequests, 0, wait, remaining, a
		}
		h.inWindow++
		h.tokensIn += a.InputTokens + a.OutputTokens
		remaining = max(h.cfg.Limit-h.inWindow, 0)
	}
	n = h.admitted
	h.admitted++
	return http.StatusOK, n, wait, remaining, a
}

// setTokenHeaders sets the token budget's headers when TokenLimit is set.
func (h *Handler) setTokenHeaders(hd http.Header, reset time.Duration) {
	if h.cfg.TokenLimit <= 0 {
		return
	}
	h.mu.Lock()
	left := max(h.cfg.TokenLimit-h.tokensIn, 0)
	h.mu.Unlock()
	hd.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(h.cfg.TokenLimit))
	hd.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(left))
	hd.Set("X-Ratelimit-Reset-Tokens", reset.String())
}

func (h *Handler) answer(n int, r Request) Answer {
	var a Answer
	switch {
	case h.cfg.Respond != nil:
		a = h.cfg.Respond(n, r)
	case len(h.cfg.Answers) > 0:
		a = h.cfg.Answers[min(n, len(h.cfg.Answers)-1)]
	}
	if a.Status == 0 || a.Status == http.StatusOK {
		if a.Content == "" && a.Body == "" {
			a.Content = AnalysisJSON("Linear algebra", "Gaussian elimination")
		}
		if a.FinishReason == "" {
			a.FinishReason = "stop"
		}
	}
	if a.InputTokens == 0 {
		a.InputTokens = 100
	}
	if a.OutputTokens == 0 {
		a.OutputTokens = 50
	}
	return a
}

func setLimitHeaders(h http.Header, limit, remaining int, reset time.Duration) {
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset-Requests", reset.String())
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code}})
}

func completion(model string, a Answer) map[string]any {
	return map[string]any{
		"id":      "chatcmpl-fake",
		"object":  "chat.completion",
		"created": 1767225600,
		"model":   model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": a.Content},
			"finish_reason": a.FinishReason,
		}},
		"usage": map[string]any{
			"prompt_tokens":     a.InputTokens,
			"completion_tokens": a.OutputTokens,
			"total_tokens":      a.InputTokens + a.OutputTokens,
		},
	}
}

// AnalysisJSON is a valid analysis answer with the given topic and core loop.
func AnalysisJSON(topic, coreLoop string) string {
	b, _ := json.Marshal(map[string]any{
		"is_valid_exercise":          true,
		"is_fragment":                false,
		"should_merge_with_previous": false,
		"topic":                      topic,
		"core_loop_name":             coreLoop,
		"procedure":                  []string{"Write the augmented matrix", "Reduce to row echelon form", "Back-substitute"},
		"difficulty":                 "medium",
		"variations":                 []string{"parametric systems"},
		"confidence":                 0.9,
	})
	return string(b)
}
