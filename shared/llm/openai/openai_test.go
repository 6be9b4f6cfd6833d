package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

const key = "gsk_testkey0123456789abcdef"

var (
	course = examina.Course{Code: "ADE", Name: "Architettura degli elaboratori", Language: "it"}
	ex     = examina.Exercise{ID: "e1", Number: "1", Text: "Solve the system x+y=2, x-y=0.", Position: 0}
	valid  = fakeopenai.AnalysisJSON("Linear systems", "Gaussian elimination")
)

func newClient(t *testing.T, srv *fakeopenai.Server, mod func(*openai.Config)) *openai.Client {
	t.Helper()
	cfg := openai.Config{Name: "groq", BaseURL: srv.BaseURL(), APIKey: key, Model: "openai/gpt-oss-120b",
		Strict: true, MaxTokensParam: "max_completion_tokens"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request() examina.Request {
	return examina.Request{Prompt: analysis.Build(course, "en", ex, ""), Schema: analysis.Schema(), MaxTokens: 1024}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []openai.Config{{Model: "m"}, {BaseURL: "http://x"}, {BaseURL: "http://x", Model: "m", Format: "xml"}} {
		if _, err := openai.New(cfg); examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("New(%+v) = %v, want an invalid error", cfg, err)
		}
	}
}

func TestRequestWireFormat(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{APIKey: key})
	defer srv.Close()
	c := newClient(t, srv, nil)
	req := request()
	req.Repair = "Your previous answer could not be used: confidence missing"
	req.Rejected = `{"topic": "x"}`
	resp, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.HTTPStatus != 200 || resp.InputTokens != 100 || resp.OutputTokens != 50 || resp.Model != "openai/gpt-oss-120b" {
		t.Fatalf("response = %+v", resp)
	}
	r := srv.Requests()[0]
	if r.Method != "POST" || r.Path != "/v1/chat/completions" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+key {
		t.Fatalf("Authorization = %q", got)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	var body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role, Content string
		} `json:"messages"`
		MaxCompletionTokens int     `json:"max_completion_tokens"`
		MaxTokens           *int    `json:"max_tokens"`
		Temperature         *string `json:"temperature"`
		Stream              bool    `json:"stream"`
		ResponseFormat      struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string          `json:"name"`
				Strict bool            `json:"strict"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "openai/gpt-oss-120b" || body.MaxCompletionTokens != 1024 || body.MaxTokens != nil || body.Temperature != nil || body.Stream {
		t.Fatalf("body = %+v", body)
	}
	if len(body.Messages) != 4 || body.Messages[0].Role != "system" || body.Messages[1].Role != "user" ||
		body.Messages[2].Role != "assistant" || body.Messages[2].Content != req.Rejected ||
		body.Messages[3].Role != "user" || body.Messages[3].Content != req.Repair || body.Messages[1].Content != req.Prompt.User {
		t.Fatalf("messages = %+v", body.Messages)
	}
	rf := body.ResponseFormat
	var want, got any
	json.Unmarshal(analysis.Schema(), &want)
	json.Unmarshal(rf.JSONSchema.Schema, &got)
	if rf.Type != "json_schema" || rf.JSONSchema.Name != openai.SchemaName || !rf.JSONSchema.Strict || !jsonEqual(want, got) {
		t.Fatalf("response_format = %+v", rf)
	}
}

func TestRequestFormats(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	temp := 0.2
	tests := []struct {
		name   string
		mod    func(*openai.Config)
		check  func(map[string]any) bool
		header string
	}{
		{"json mode, no key", func(c *openai.Config) { c.Format = openai.FormatJSONObject; c.APIKey = ""; c.MaxTokensParam = "" },
			func(b map[string]any) bool {
				rf, _ := b["response_format"].(map[string]any)
				return rf["type"] == "json_object" && b["max_tokens"] == 1024.0
			}, ""},
		{"no format, temperature", func(c *openai.Config) { c.Format = openai.FormatNone; c.Temperature = &temp },
			func(b map[string]any) bool { _, ok := b["response_format"]; return !ok && b["temperature"] == 0.2 }, "Bearer " + key},
		{"best effort schema", func(c *openai.Config) { c.Strict = false },
			func(b map[string]any) bool {
				js := b["response_format"].(map[string]any)["json_schema"].(map[string]any)
				_, strict := js["strict"]
				return !strict && js["schema"] != nil
			}, "Bearer " + key},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, tt.mod)
			if _, err := c.Complete(context.Background(), request()); err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[i]
			if !tt.check(r.Payload) || r.Header.Get("Authorization") != tt.header {
				t.Fatalf("body %s, auth %q", r.Body, r.Header.Get("Authorization"))
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestResponses(t *testing.T) {
	rlBody := `{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}`
	tests := []struct {
		name       string
		answer     fakeopenai.Answer
		text       string // expected text on success
		reason     string // expected ProviderError reason on failure
		kind       examina.Kind
		retryAfter time.Duration
		tokens     bool // usage filled even on failure
	}{
		{name: "success", answer: fakeopenai.Answer{Content: valid}, text: valid},
		{name: "fenced", answer: fakeopenai.Answer{Content: "```json\n" + valid + "\n```"}, text: "```json\n" + valid + "\n```"},
		{name: "think", answer: fakeopenai.Answer{Content: "<think>let me see {</think>" + valid}, text: "<think>let me see {</think>" + valid},
		{name: "truncated", answer: fakeopenai.Answer{Content: `{"is_valid_exercise": tr`, FinishReason: "length"}, reason: "truncated", kind: examina.KindTransient, tokens: true},
		{name: "429 retry-after", answer: fakeopenai.Answer{Status: 429, Body: rlBody, Header: http.Header{"Retry-After": {"7"}}}, reason: "rate_limited", kind: examina.KindTransient, retryAfter: 7 * time.Second},
		{name: "429 retry-after-ms", answer: fakeopenai.Answer{Status: 429, Body: rlBody, Header: http.Header{"Retry-After-Ms": {"1500"}}}, reason: "rate_limited", kind: examina.KindTransient, retryAfter: 1500 * time.Millisecond},
		{name: "429 reset tokens", answer: fakeopenai.Answer{Status: 429, Body: rlBody, Header: http.Header{
			"Retry-After": {"2"}, "X-Ratelimit-Remaining-Tokens": {"0"}, "X-Ratelimit-Reset-Tokens": {"7.66s"},
			"X-Ratelimit-Remaining-Requests": {"999"}, "X-Ratelimit-Reset-Requests": {"2m59.56s"}}},
			reason: "rate_limited", kind: examina.KindTransient, retryAfter: 7660 * time.Millisecond},
		{name: "429 reset requests", answer: fakeopenai.Answer{Status: 429, Body: rlBody, Header: http.Header{
			"X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"1m2s"}}},
			reason: "rate_limited", kind: examina.KindTransient, retryAfter: 62 * time.Second},
		{name: "529", answer: fakeopenai.Answer{Status: 529, Body: `{"error":{"message":"overloaded","type":"overloaded_error"}}`}, reason: "overloaded", kind: examina.KindTransient},
		{name: "500", answer: fakeopenai.Answer{Status: 500, Body: `{"error":{"message":"oops","type":"server_error"}}`}, reason: "server_error", kind: examina.KindTransient},
		{name: "401", answer: fakeopenai.Answer{Status: 401, Body: `{"error":{"message":"Invalid API Key ` + key + `","type":"invalid_request_error","code":"invalid_api_key"}}`}, reason: "unauthorized", kind: examina.KindPermanent},
		{name: "json_validate_failed", answer: fakeopenai.Answer{Status: 400, Body: `{"error":{"message":"Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.","type":"invalid_request_error","code":"json_validate_failed","failed_generation":"{\"topic\":"}}`}, reason: "invalid_output", kind: examina.KindInvalid},
		{name: "malformed", answer: fakeopenai.Answer{Body: `{"choices": [`}, reason: "malformed_response", kind: examina.KindTransient},
		{name: "no choices", answer: fakeopenai.Answer{Body: `{"choices": []}`}, reason: "malformed_response", kind: examina.KindTransient},
		{name: "null content", answer: fakeopenai.Answer{Body: `{"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}`}, reason: "invalid_output", kind: examina.KindInvalid},
		{name: "refusal", answer: fakeopenai.Answer{Body: `{"choices":[{"message":{"role":"assistant","content":null,"refusal":"no"},"finish_reason":"stop"}]}`}, reason: "refusal", kind: examina.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeopenai.New(fakeopenai.Config{Answers: []fakeopenai.Answer{tt.answer}})
			defer srv.Close()
			resp, err := newClient(t, srv, nil).Complete(context.Background(), request())
			if tt.reason == "" {
				if err != nil || resp.Text != tt.text {
					t.Fatalf("Complete = %q, %v; want %q", resp.Text, err, tt.text)
				}
				if _, err := analysis.Parse(resp.Text); err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
				return
			}
			var pe *examina.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("Complete error = %v, want a ProviderError", err)
			}
			if pe.Reason != tt.reason || pe.Kind != tt.kind || pe.RetryAfter != tt.retryAfter || pe.Provider != "groq" {
				t.Fatalf("error = %+v; want reason %q kind %v retry after %v", pe, tt.reason, tt.kind, tt.retryAfter)
			}
			if resp.Text != "" {
				t.Fatalf("failed call returned text %q", resp.Text)
			}
			if tt.tokens && (resp.InputTokens != 100 || resp.OutputTokens != 50) {
				t.Fatalf("tokens not reported on failure: %+v", resp)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("key in error %q", err)
			}
		})
	}
}

func TestSlowerThanTimeout(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Latency: 30 * time.Second})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(t, srv, nil).Complete(ctx, request())
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Reason != "timeout" || retry.Classify(err).Action != retry.Retry {
		t.Fatalf("Complete = %v, want a transient timeout", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %v of the server's 30s, the context deadline was not honoured", el)
	}
}

func TestRateLimitInfo(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Limit: 5, Window: time.Minute})
	defer srv.Close()
	resp, err := newClient(t, srv, nil).Complete(context.Background(), request())
	if err != nil || resp.RateLimit == nil || resp.RateLimit.RemainingRequests != 4 || resp.RateLimit.ResetRequests <= 0 {
		t.Fatalf("Complete = %+v, %v; want remaining 4 with a reset", resp.RateLimit, err)
	}
}

// analyzer runs the retry layer over c with a fake clock and a log buffer.
func analyzer(c examina.Provider) (*pipeline.Analyzer, *retrytest.Clock, *bytes.Buffer) {
	clock := retrytest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	p := retry.DefaultPolicy()
	p.Jitter = func() float64 { return 0.5 }
	return &pipeline.Analyzer{Provider: c, Policy: p, Clock: clock, Language: "en",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, clock, &logs
}

func TestThroughAnalyzer(t *testing.T) {
	rl := func(h ...string) fakeopenai.Answer {
		a := fakeopenai.Answer{Status: 429, Body: `{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}`, Header: http.Header{}}
		for i := 0; i+1 < len(h); i += 2 {
			a.Header.Set(h[i], h[i+1])
		}
		return a
	}
	unauthorized := fakeopenai.Answer{Status: 401, Body: `{"error":{"message":"Invalid API Key","code":"invalid_api_key"}}`}
	boom := fakeopenai.Answer{Status: 500, Body: `{"error":{"message":"boom"}}`}
	ok := fakeopenai.Answer{Content: "Sure!\n```json\n" + valid + "\n```"}
	tests := []struct {
		name     string
		answers  []fakeopenai.Answer
		status   examina.Status
		attempts int
		statuses []int
		minWaits []time.Duration // each sleep must be at least this (server waits)
		check    func(t *testing.T, reqs []fakeopenai.Request)
	}{
		{name: "ok in fences", answers: []fakeopenai.Answer{ok}, status: examina.StatusOK, attempts: 1, statuses: []int{200}},
		{name: "429 retry-after honoured", answers: []fakeopenai.Answer{rl("Retry-After", "7"), ok}, status: examina.StatusOK, attempts: 2,
			statuses: []int{429, 200}, minWaits: []time.Duration{7 * time.Second}},
		{name: "429 storm uses the rate-limit budget", answers: []fakeopenai.Answer{rl("Retry-After-Ms", "300"), rl("Retry-After-Ms", "300"), rl("Retry-After-Ms", "300"), rl("Retry-After-Ms", "300"), ok},
			status: examina.StatusOK, attempts: 5, statuses: []int{429, 429, 429, 429, 200}, minWaits: []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}},
		{name: "429 reset header honoured", answers: []fakeopenai.Answer{rl("X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "12.5s"), ok}, status: examina.StatusOK, attempts: 2,
			statuses: []int{429, 200}, minWaits: []time.Duration{12500 * time.Millisecond}},
		{name: "401 not retried", answers: []fakeopenai.Answer{unauthorized, ok}, status: examina.StatusDegraded, attempts: 1, statuses: []int{401}},
		{name: "500 retried twice", answers: []fakeopenai.Answer{boom, boom, boom, ok}, status: examina.StatusDegraded, attempts: 3, statuses: []int{500, 500, 500}},
		{name: "529 then ok", answers: []fakeopenai.Answer{{Status: 529, Body: `{"error":{"message":"Overloaded","type":"overloaded_error"}}`}, ok}, status: examina.StatusOK, attempts: 2, statuses: []int{529, 200}},
		{name: "truncated retried with a larger budget", answers: []fakeopenai.Answer{{Content: `{"topic": "x", "proc`, FinishReason: "length"}, ok},
			status: examina.StatusOK, attempts: 2, statuses: []int{200, 200},
			check: func(t *testing.T, reqs []fakeopenai.Request) {
				if a, b := reqs[0].Payload["max_completion_tokens"], reqs[1].Payload["max_completion_tokens"]; a != 1024.0 || b != 2048.0 {
					t.Fatalf("budgets %v then %v, want 1024 then 2048", a, b)
				}
			}},
		{name: "json_validate_failed repaired once", answers: []fakeopenai.Answer{{Status: 400, Body: `{"error":{"message":"Failed to generate JSON.","code":"json_validate_failed","failed_generation":"{\"topic\":"}}`}, ok},
			status: examina.StatusOK, attempts: 2, statuses: []int{400, 200},
			check: func(t *testing.T, reqs []fakeopenai.Request) {
				msgs := reqs[1].Payload["messages"].([]any)
				last := msgs[len(msgs)-1].(map[string]any)["content"].(string)
				// No answer text came back: the instruction joins the user turn.
				if len(msgs) != 2 || !strings.Contains(last, "json_validate_failed") {
					t.Fatalf("repair request messages = %v", msgs)
				}
			}},
		{name: "invalid output repaired once then degraded", answers: []fakeopenai.Answer{{Content: `{"topic": 3}`}, {Content: `not json`}, ok},
			status: examina.StatusDegraded, attempts: 2, statuses: []int{200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeopenai.New(fakeopenai.Config{Answers: tt.answers, APIKey: key})
			defer srv.Close()
			a, clock, logs := analyzer(newClient(t, srv, nil))
			out, err := a.Analyze(context.Background(), course, ex, "")
			if out.Status != tt.status || out.Attempts != tt.attempts {
				t.Fatalf("status %s after %d attempts (err %v); want %s after %d", out.Status, out.Attempts, err, tt.status, tt.attempts)
			}
			if (err != nil) != (tt.status == examina.StatusDegraded) {
				t.Fatalf("err = %v for status %s", err, out.Status)
			}
			if len(srv.Requests()) != tt.attempts {
				t.Fatalf("server saw %d requests, want %d", len(srv.Requests()), tt.attempts)
			}
			for i, rec := range out.AttemptLog {
				if rec.HTTPStatus != tt.statuses[i] {
					t.Fatalf("attempt %d status %d, want %d (log %+v)", i+1, rec.HTTPStatus, tt.statuses[i], out.AttemptLog)
				}
			}
			if out.InputTokens == 0 && tt.status == examina.StatusOK {
				t.Fatalf("no tokens recorded: %+v", out.Meta)
			}
			sleeps := clock.Sleeps()
			if len(sleeps) < len(tt.minWaits) {
				t.Fatalf("sleeps %v, want at least %v", sleeps, tt.minWaits)
			}
			var total time.Duration
			for i, w := range tt.minWaits {
				// Honoured within tolerance: at least what the server asked, at most the
				// jittered backoff above it.
				if sleeps[i] < w || sleeps[i] > w+20*time.Second {
					t.Fatalf("sleep %d = %v, want ≥ %v", i, sleeps[i], w)
				}
			}
			for _, s := range sleeps {
				total += s
			}
			if out.WaitMS != total.Milliseconds() {
				t.Fatalf("WaitMS %d, slept %v", out.WaitMS, total)
			}
			if tt.check != nil {
				tt.check(t, srv.Requests())
			}
			if strings.Contains(logs.String(), key) || strings.Contains(out.Error, key) || (err != nil && strings.Contains(err.Error(), key)) {
				t.Fatal("the API key leaked into logs or errors")
			}
		})
	}
}

func TestAnalyzerTimeout(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Answers: []fakeopenai.Answer{{Delay: 30 * time.Second}, {}}})
	defer srv.Close()
	a, _, _ := analyzer(newClient(t, srv, nil))
	a.CallTimeout = 50 * time.Millisecond
	start := time.Now()
	out, err := a.Analyze(context.Background(), course, ex, "")
	if err != nil || out.Status != examina.StatusOK || out.Attempts != 2 || !strings.Contains(out.AttemptLog[0].Error, "timeout") {
		t.Fatalf("Analyze = %+v, %v; want a timeout then success", out.Meta, err)
	}
	if e := out.AttemptLog[0].Error; strings.Count(e, "timeout") != 1 || !strings.HasPrefix(e, "groq: timeout: ") {
		t.Fatalf("attempt error %q: want one \"groq: timeout:\" prefix", e)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatal("the call timeout was not honoured: the first answer takes 30s")
	}
}
