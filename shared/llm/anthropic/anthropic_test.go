package anthropic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/anthropic"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

const key = "sk-ant-api03-testkey-0123456789"

var (
	course = examina.Course{Code: "ADE", Name: "Architettura", Language: "it"}
	ex     = examina.Exercise{ID: "e1", Number: "1", Text: "Convert 0x1F to binary.", Position: 0}
	valid  = `{"is_valid_exercise":true,"is_fragment":false,"should_merge_with_previous":false,"topic":"Number systems","core_loop_name":"Base conversion","procedure":["Split digits","Convert each","Join"],"difficulty":"easy","variations":[],"confidence":0.8}`
	now    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// reply is one canned answer of the fake Messages API.
type reply struct {
	status int
	header map[string]string
	body   string
	delay  time.Duration
}

func message(stop string, content ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
		"content": content, "stop_reason": stop, "usage": map[string]any{"input_tokens": 321, "output_tokens": 45}})
	return string(b)
}

func text(s string) map[string]any { return map[string]any{"type": "text", "text": s} }

func errBody(typ, msg string) string {
	return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_011"}`
}

type fake struct {
	*httptest.Server
	mu      sync.Mutex
	replies []reply
	reqs    []*http.Request
	bodies  []map[string]any
}

func newFake(t *testing.T, replies ...reply) *fake {
	f := &fake{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, r)
		f.bodies = append(f.bodies, m)
		rp := f.replies[min(n, len(f.replies)-1)]
		f.mu.Unlock()
		if rp.delay > 0 {
			select {
			case <-time.After(rp.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(max(rp.status, 200))
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func newClient(t *testing.T, f *fake, mod func(*anthropic.Config)) *anthropic.Client {
	cfg := anthropic.Config{BaseURL: f.URL, APIKey: key, Model: "claude-haiku-4-5", Now: func() time.Time { return now }}
	if mod != nil {
		mod(&cfg)
	}
	c, err := anthropic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request() examina.Request {
	return examina.Request{Prompt: analysis.Build(course, "en", ex, ""), Schema: analysis.Schema(), MaxTokens: 1024}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []anthropic.Config{{Model: "m"}, {APIKey: "k"}, {APIKey: "k", Model: "m", Structured: "magic"}} {
		if _, err := anthropic.New(cfg); examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}

func TestRequestWireFormat(t *testing.T) {
	temp := 0.0
	tests := []struct {
		name  string
		mod   func(*anthropic.Config)
		check func(t *testing.T, r *http.Request, b map[string]any)
	}{
		{"output_config, default version", func(c *anthropic.Config) { c.Temperature = &temp }, func(t *testing.T, r *http.Request, b map[string]any) {
			if r.Header.Get("anthropic-version") != "2023-06-01" || b["temperature"] != 0.0 {
				t.Fatalf("version %q temperature %v", r.Header.Get("anthropic-version"), b["temperature"])
			}
			f := b["output_config"].(map[string]any)["format"].(map[string]any)
			var want any
			json.Unmarshal(analysis.Schema(), &want)
			if f["type"] != "json_schema" || !jsonEqual(f["schema"], want) || b["tools"] != nil {
				t.Fatalf("output_config = %v", b["output_config"])
			}
		}},
		{"2026-10-21 sends no temperature", func(c *anthropic.Config) { c.Version = "2026-10-21"; c.Temperature = &temp }, func(t *testing.T, r *http.Request, b map[string]any) {
			if r.Header.Get("anthropic-version") != "2026-10-21" {
				t.Fatalf("version %q", r.Header.Get("anthropic-version"))
			}
			if _, ok := b["temperature"]; ok {
				t.Fatal("temperature sent under 2026-10-21")
			}
		}},
		{"forced tool for claude-3", func(c *anthropic.Config) { c.Model = "claude-3-5-haiku-latest" }, func(t *testing.T, r *http.Request, b map[string]any) {
			tools := b["tools"].([]any)
			tc := b["tool_choice"].(map[string]any)
			if len(tools) != 1 || tools[0].(map[string]any)["input_schema"] == nil || tc["type"] != "tool" || tc["name"] != anthropic.ToolName || b["output_config"] != nil {
				t.Fatalf("tools %v choice %v", tools, tc)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: message("end_turn", text(valid))})
			req := request()
			req.Repair = "fix the confidence"
			if _, err := newClient(t, f, tt.mod).Complete(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			r, b := f.reqs[0], f.bodies[0]
			if r.Method != "POST" || r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != key || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s %s key %q", r.Method, r.URL.Path, r.Header.Get("x-api-key"))
			}
			msgs := b["messages"].([]any)
			m0 := msgs[0].(map[string]any)
			if b["model"] != f.model(tt.mod) || b["max_tokens"] != 1024.0 || b["system"] != req.Prompt.System ||
				len(msgs) != 1 || m0["role"] != "user" || !strings.HasSuffix(m0["content"].(string), "fix the confidence") {
				t.Fatalf("body %v", b)
			}
			tt.check(t, r, b)
		})
	}
}

// TestRepairAlternates: the Messages API requires alternating roles, so a repair sends
// the rejected answer as the assistant's turn, then the instruction as the user's.
func TestRepairAlternates(t *testing.T) {
	f := newFake(t, reply{body: message("end_turn", text(valid))})
	req := request()
	req.Repair = "fix the confidence"
	req.Rejected = `{"confidence": 46E2550782}`
	if _, err := newClient(t, f, nil).Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	msgs := f.bodies[0]["messages"].([]any)
	var got []string
	for _, m := range msgs {
		m := m.(map[string]any)
		got = append(got, m["role"].(string)+"="+m["content"].(string))
	}
	want := []string{"user=" + req.Prompt.User, "assistant=" + req.Rejected, "user=fix the confidence"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages %q, want %q", got, want)
	}
}

func (f *fake) model(mod func(*anthropic.Config)) string {
	c := anthropic.Config{Model: "claude-haiku-4-5"}
	if mod != nil {
		mod(&c)
	}
	return c.Model
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestResponses(t *testing.T) {
	rl := errBody("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
	tests := []struct {
		name       string
		reply      reply
		want       string
		reason     string
		kind       examina.Kind
		retryAfter time.Duration
		tokens     bool
	}{
		{name: "text", reply: reply{body: message("end_turn", text(valid))}, want: valid},
		{name: "fenced", reply: reply{body: message("end_turn", text("```json\n"+valid+"\n```"))}, want: "```json\n" + valid + "\n```"},
		{name: "think", reply: reply{body: message("end_turn", text("<think>hmm {</think>"+valid))}, want: "<think>hmm {</think>" + valid},
		{name: "tool use", reply: reply{body: message("tool_use", map[string]any{"type": "tool_use", "id": "toolu_1", "name": anthropic.ToolName, "input": json.RawMessage(valid)})}, want: valid},
		{name: "max_tokens", reply: reply{body: message("max_tokens", text(`{"topic":`))}, reason: "truncated", kind: examina.KindTransient, tokens: true},
		{name: "refusal", reply: reply{body: message("refusal")}, reason: "refusal", kind: examina.KindInvalid},
		{name: "429 retry-after", reply: reply{status: 429, body: rl, header: map[string]string{"retry-after": "9"}}, reason: "rate_limited", kind: examina.KindTransient, retryAfter: 9 * time.Second},
		{name: "429 ratelimit reset", reply: reply{status: 429, body: rl, header: map[string]string{"retry-after": "3",
			"anthropic-ratelimit-input-tokens-remaining": "0", "anthropic-ratelimit-input-tokens-reset": now.Add(42 * time.Second).Format(time.RFC3339),
			"anthropic-ratelimit-requests-remaining": "40", "anthropic-ratelimit-requests-reset": now.Add(59 * time.Second).Format(time.RFC3339)}},
			reason: "rate_limited", kind: examina.KindTransient, retryAfter: 42 * time.Second},
		{name: "429 spend limit", reply: reply{status: 429, body: errBody("rate_limit_error", "This request would exceed your account's monthly spend limit.")}, reason: "quota_exhausted", kind: examina.KindPermanent},
		{name: "529 overloaded", reply: reply{status: 529, body: errBody("overloaded_error", "Overloaded")}, reason: "overloaded", kind: examina.KindTransient},
		{name: "500", reply: reply{status: 500, body: errBody("api_error", "Internal server error")}, reason: "server_error", kind: examina.KindTransient},
		{name: "401", reply: reply{status: 401, body: errBody("authentication_error", "invalid x-api-key "+key)}, reason: "unauthorized", kind: examina.KindPermanent},
		{name: "malformed", reply: reply{body: `{"content": [{"type":`}, reason: "malformed_response", kind: examina.KindTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			resp, err := newClient(t, f, nil).Complete(context.Background(), request())
			if tt.reason == "" {
				if err != nil || resp.Text != tt.want || resp.InputTokens != 321 || resp.OutputTokens != 45 || resp.HTTPStatus != 200 {
					t.Fatalf("Complete = %+v, %v", resp, err)
				}
				if _, err := analysis.Parse(resp.Text); err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
				return
			}
			var pe *examina.ProviderError
			if !errors.As(err, &pe) || pe.Reason != tt.reason || pe.Kind != tt.kind || pe.RetryAfter != tt.retryAfter || pe.Provider != "anthropic" {
				t.Fatalf("error = %#v; want reason %q kind %v retry after %v", err, tt.reason, tt.kind, tt.retryAfter)
			}
			if tt.tokens && resp.OutputTokens != 45 {
				t.Fatalf("tokens missing on truncation: %+v", resp)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("key in %q", err)
			}
		})
	}
}

func TestRateLimitHeadersReported(t *testing.T) {
	f := newFake(t, reply{body: message("end_turn", text(valid)), header: map[string]string{
		"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": now.Add(20 * time.Second).Format(time.RFC3339),
		"anthropic-ratelimit-tokens-remaining": "1000", "anthropic-ratelimit-tokens-reset": now.Add(5 * time.Second).Format(time.RFC3339)}})
	resp, err := newClient(t, f, nil).Complete(context.Background(), request())
	want := examina.RateLimitInfo{RemainingRequests: 0, ResetRequests: 20 * time.Second, RemainingTokens: 1000, ResetTokens: 5 * time.Second}
	if err != nil || resp.RateLimit == nil || *resp.RateLimit != want {
		t.Fatalf("RateLimit = %+v, %v; want %+v", resp.RateLimit, err, want)
	}
}

func TestSlowerThanTimeout(t *testing.T) {
	f := newFake(t, reply{delay: 3 * time.Second, body: message("end_turn", text(valid))})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := newClient(t, f, nil).Complete(ctx, request())
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Reason != "timeout" || retry.Classify(err).Action != retry.Retry {
		t.Fatalf("Complete = %v, want a transient timeout", err)
	}
}

func TestThroughAnalyzer(t *testing.T) {
	ok := reply{body: message("end_turn", text(valid))}
	overloaded := reply{status: 529, body: errBody("overloaded_error", "Overloaded")}
	tests := []struct {
		name     string
		replies  []reply
		status   examina.Status
		attempts int
		minWait  time.Duration
	}{
		{"529 twice then ok", []reply{overloaded, overloaded, ok}, examina.StatusOK, 3, 0},
		{"429 reset honoured", []reply{{status: 429, body: errBody("rate_limit_error", "slow down"), header: map[string]string{
			"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": now.Add(30 * time.Second).Format(time.RFC3339)}}, ok},
			examina.StatusOK, 2, 30 * time.Second},
		{"401 not retried", []reply{{status: 401, body: errBody("authentication_error", "invalid x-api-key")}, ok}, examina.StatusDegraded, 1, 0},
		{"spend limit not retried", []reply{{status: 429, body: errBody("rate_limit_error", "monthly spend limit reached")}, ok}, examina.StatusDegraded, 1, 0},
		{"max_tokens enlarged", []reply{{body: message("max_tokens", text(`{"to`))}, ok}, examina.StatusOK, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			clock := retrytest.NewClock(now)
			var logs bytes.Buffer
			p := retry.DefaultPolicy()
			p.Jitter = func() float64 { return 0 }
			a := &pipeline.Analyzer{Provider: newClient(t, f, nil), Policy: p, Clock: clock, Language: "en",
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			out, err := a.Analyze(context.Background(), course, ex, "")
			if out.Status != tt.status || out.Attempts != tt.attempts || f.count() != tt.attempts {
				t.Fatalf("status %s after %d attempts (%d requests), err %v", out.Status, out.Attempts, f.count(), err)
			}
			var slept time.Duration
			for _, s := range clock.Sleeps() {
				slept += s
			}
			if slept < tt.minWait || slept > tt.minWait+time.Second {
				t.Fatalf("slept %v, want about %v", slept, tt.minWait)
			}
			if strings.Contains(logs.String(), key) || strings.Contains(out.Error, key) {
				t.Fatal("key leaked")
			}
			if tt.name == "max_tokens enlarged" && f.bodies[1]["max_tokens"] != 2048.0 {
				t.Fatalf("second budget %v", f.bodies[1]["max_tokens"])
			}
		})
	}
}

func TestStructuredOutputFor(t *testing.T) {
	tests := map[string]string{
		"claude-haiku-4-5":                            anthropic.StructuredOutputConfig,
		"claude-haiku-4-5-20251001":                   anthropic.StructuredOutputConfig,
		"claude-sonnet-4-5":                           anthropic.StructuredOutputConfig,
		"claude-opus-4-5-20251101":                    anthropic.StructuredOutputConfig,
		"claude-opus-4-6":                             anthropic.StructuredOutputConfig,
		"claude-sonnet-5":                             anthropic.StructuredOutputConfig,
		"eu.anthropic.claude-haiku-4-5-20251001-v1:0": anthropic.StructuredOutputConfig,
		"claude-sonnet-4-20250514":                    anthropic.StructuredTool,
		"claude-sonnet-4-0":                           anthropic.StructuredTool,
		"claude-opus-4-1-20250805":                    anthropic.StructuredTool,
		"claude-opus-4-20250514":                      anthropic.StructuredTool,
		"claude-3-5-haiku-latest":                     anthropic.StructuredTool,
		"claude-3-7-sonnet-20250219":                  anthropic.StructuredTool,
		"my-proxy-alias":                              anthropic.StructuredTool,
	}
	for model, want := range tests {
		if got := anthropic.StructuredOutputFor(model); got != want {
			t.Errorf("StructuredOutputFor(%q) = %q, want %q", model, got, want)
		}
	}
}

// TestOutputConfigRefusedFallsBackToTool: a model that refuses output_config with a
// 400 is asked again at once with forced tool use, and every later request uses it.
func TestOutputConfigRefusedFallsBackToTool(t *testing.T) {
	refusal := reply{status: 400, body: `{"type":"error","error":{"type":"invalid_request_error","message":"output_config.format: Extra inputs are not permitted"}}`}
	ok := reply{body: message("tool_use", map[string]any{"type": "tool_use", "id": "t1", "name": anthropic.ToolName, "input": json.RawMessage(valid)})}
	f := newFake(t, refusal, ok, ok)
	c := newClient(t, f, func(c *anthropic.Config) { c.Model = "claude-haiku-4-5-custom" })
	for range 2 {
		if resp, err := c.Complete(context.Background(), request()); err != nil || resp.Text != valid {
			t.Fatalf("Complete = %q, %v", resp.Text, err)
		}
	}
	if len(f.bodies) != 3 || f.bodies[0]["output_config"] == nil || f.bodies[1]["tools"] == nil || f.bodies[1]["output_config"] != nil || f.bodies[2]["tools"] == nil {
		t.Fatalf("requests: output_config %v, then tools %v / %v", f.bodies[0]["output_config"] != nil, f.bodies[1]["tools"] != nil, f.bodies[2]["tools"] != nil)
	}
}
