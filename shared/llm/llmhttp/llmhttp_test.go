package llmhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestClassificationTable is the table, from status and body through
// ResponseError to the retry layer's decision.
func TestClassificationTable(t *testing.T) {
	openaiErr := func(code, msg string) string {
		return `{"error":{"message":"` + msg + `","type":"invalid_request_error","code":"` + code + `"}}`
	}
	anthErr := func(typ, msg string) string {
		return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_1"}`
	}
	tests := []struct {
		name      string
		status    int
		body      string
		kind      examina.Kind
		reason    string
		rateLimit bool
		action    retry.Action
	}{
		{"408", 408, "", examina.KindTransient, "timeout", false, retry.Retry},
		{"409", 409, "", examina.KindTransient, "conflict", false, retry.Retry},
		{"429 groq", 429, openaiErr("rate_limit_exceeded", "Rate limit reached"), examina.KindTransient, "rate_limited", true, retry.Retry},
		{"429 anthropic", 429, anthErr("rate_limit_error", "Number of requests has exceeded your rate limit"), examina.KindTransient, "rate_limited", true, retry.Retry},
		{"429 anthropic spend limit", 429, anthErr("rate_limit_error", "This request would exceed your account's monthly spend limit."), examina.KindPermanent, "quota_exhausted", false, retry.Stop},
		{"429 enforced_spend_limit_reached", 429, anthErr("enforced_spend_limit_reached", "limit"), examina.KindPermanent, "quota_exhausted", false, retry.Stop},
		{"429 openai insufficient_quota", 429, openaiErr("insufficient_quota", "You exceeded your current quota"), examina.KindPermanent, "quota_exhausted", false, retry.Stop},
		{"500", 500, anthErr("api_error", "Internal server error"), examina.KindTransient, "server_error", false, retry.Retry},
		{"502", 502, "<html>Bad Gateway</html>", examina.KindTransient, "server_error", false, retry.Retry},
		{"503", 503, "", examina.KindTransient, "unavailable", true, retry.Retry},
		{"504", 504, "", examina.KindTransient, "timeout", false, retry.Retry},
		{"529 overloaded", 529, anthErr("overloaded_error", "Overloaded"), examina.KindTransient, "overloaded", true, retry.Retry},
		{"400", 400, openaiErr("", "'messages' is required"), examina.KindPermanent, "bad_request", false, retry.Stop},
		{"400 json_validate_failed", 400, `{"error":{"message":"Failed to generate JSON.","type":"invalid_request_error","code":"json_validate_failed","failed_generation":"{\"topic\": 1"}}`, examina.KindInvalid, "invalid_output", false, retry.Repair},
		{"401", 401, anthErr("authentication_error", "invalid x-api-key"), examina.KindPermanent, "unauthorized", false, retry.Stop},
		{"403", 403, anthErr("permission_error", "no"), examina.KindPermanent, "forbidden", false, retry.Stop},
		{"404 ollama", 404, `{"error":"model 'x' not found"}`, examina.KindPermanent, "not_found", false, retry.Stop},
		{"413", 413, anthErr("request_too_large", "too large"), examina.KindPermanent, "too_large", false, retry.Stop},
		{"422", 422, "", examina.KindPermanent, "bad_request", false, retry.Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := llmhttp.ResponseError("p", tt.status, http.Header{}, []byte(tt.body), now)
			if pe.Kind != tt.kind || pe.Reason != tt.reason || pe.RateLimit != tt.rateLimit || pe.HTTPStatus != tt.status {
				t.Fatalf("got kind %v reason %q ratelimit %v status %d; want %v %q %v %d",
					pe.Kind, pe.Reason, pe.RateLimit, pe.HTTPStatus, tt.kind, tt.reason, tt.rateLimit, tt.status)
			}
			if d := retry.Classify(pe); d.Action != tt.action {
				t.Fatalf("Classify = %v (%s), want %v", d.Action, d.Reason, tt.action)
			}
		})
	}
}

func TestResponseErrorDetails(t *testing.T) {
	pe := llmhttp.ResponseError("groq", 400, nil,
		[]byte(`{"error":{"message":"Failed to generate JSON.","code":"json_validate_failed","failed_generation":"{\"topic\": 1"}}`), now)
	if pe.Code != "json_validate_failed" || !strings.Contains(pe.Message, `{"topic": 1`) {
		t.Fatalf("json_validate_failed = %+v, want code and failed generation in the message", pe)
	}
	pe = llmhttp.ResponseError("a", 529, nil, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), now)
	if pe.Code != "overloaded_error" || pe.Message != "Overloaded" {
		t.Fatalf("529 = %+v", pe)
	}
	pe = llmhttp.ResponseError("a", 500, nil, nil, now)
	if pe.Message != "Internal Server Error" {
		t.Fatalf("empty body message = %q", pe.Message)
	}
	pe = llmhttp.ResponseError("a", 429, hdr("Retry-After", "7"), nil, now)
	if pe.RetryAfter != 7*time.Second {
		t.Fatalf("RetryAfter = %v, want 7s", pe.RetryAfter)
	}
	pe = llmhttp.ResponseError("a", 401, hdr("Retry-After", "7"), []byte(`{"error":{"message":"Incorrect API key provided: sk-abcdefghijklmnop1234"}}`), now, "sk-abcdefghijklmnop1234")
	if pe.RetryAfter != 0 || strings.Contains(pe.Error(), "abcdefghijklmnop") {
		t.Fatalf("401 = %v (retry after %v), want no wait and the key scrubbed", pe, pe.RetryAfter)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"none", hdr(), 0},
		{"seconds", hdr("Retry-After", "12"), 12 * time.Second},
		{"fractional seconds", hdr("Retry-After", "1.5"), 1500 * time.Millisecond},
		{"http date", hdr("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), 30 * time.Second},
		{"http date in the past", hdr("Retry-After", now.Add(-30*time.Second).Format(http.TimeFormat)), 0},
		{"garbage", hdr("Retry-After", "soon"), 0},
		{"negative", hdr("Retry-After", "-5"), 0},
		{"ms", hdr("Retry-After-Ms", "250"), 250 * time.Millisecond},
		{"longest of seconds and ms", hdr("Retry-After", "1", "Retry-After-Ms", "1500"), 1500 * time.Millisecond},
		{"groq reset tokens", hdr("X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "7.66s"), 7660 * time.Millisecond},
		{"groq reset requests go duration", hdr("X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "2m59.56s"), 2*time.Minute + 59560*time.Millisecond},
		{"reset with budget left ignored", hdr("Retry-After", "2", "X-Ratelimit-Remaining-Requests", "14370", "X-Ratelimit-Reset-Requests", "2m59.56s",
			"X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "7.66s"), 7660 * time.Millisecond},
		{"reset without remaining header counts", hdr("X-Ratelimit-Reset-Requests", "20ms"), 20 * time.Millisecond},
		{"openai ms reset", hdr("X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "12ms"), 12 * time.Millisecond},
		{"plain seconds reset", hdr("X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "3"), 3 * time.Second},
		{"anthropic reset", hdr("Anthropic-Ratelimit-Requests-Remaining", "0", "Anthropic-Ratelimit-Requests-Reset", now.Add(40*time.Second).Format(time.RFC3339)), 40 * time.Second},
		{"anthropic output tokens reset longest", hdr("Retry-After", "5",
			"Anthropic-Ratelimit-Output-Tokens-Remaining", "0", "Anthropic-Ratelimit-Output-Tokens-Reset", now.Add(61*time.Second).Format(time.RFC3339),
			"Anthropic-Ratelimit-Requests-Remaining", "49", "Anthropic-Ratelimit-Requests-Reset", now.Add(90*time.Second).Format(time.RFC3339)), 61 * time.Second},
		{"huge clamped", hdr("Retry-After", "1e30"), 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := llmhttp.RetryAfter(tt.h, now); got != tt.want {
				t.Fatalf("RetryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want *examina.RateLimitInfo
	}{
		{"none", hdr("Retry-After", "3"), nil},
		{"groq", hdr("X-Ratelimit-Remaining-Requests", "14370", "X-Ratelimit-Reset-Requests", "2m59.56s",
			"X-Ratelimit-Remaining-Tokens", "17997", "X-Ratelimit-Reset-Tokens", "7.66s"),
			&examina.RateLimitInfo{RemainingRequests: 14370, ResetRequests: 2*time.Minute + 59560*time.Millisecond, RemainingTokens: 17997, ResetTokens: 7660 * time.Millisecond}},
		{"tokens only", hdr("X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "1s"),
			&examina.RateLimitInfo{RemainingRequests: -1, RemainingTokens: 0, ResetTokens: time.Second}},
		{"anthropic tightest tokens", hdr(
			"Anthropic-Ratelimit-Requests-Remaining", "3", "Anthropic-Ratelimit-Requests-Reset", now.Add(10*time.Second).Format(time.RFC3339),
			"Anthropic-Ratelimit-Tokens-Remaining", "9000", "Anthropic-Ratelimit-Tokens-Reset", now.Add(5*time.Second).Format(time.RFC3339),
			"Anthropic-Ratelimit-Output-Tokens-Remaining", "100", "Anthropic-Ratelimit-Output-Tokens-Reset", now.Add(20*time.Second).Format(time.RFC3339)),
			&examina.RateLimitInfo{RemainingRequests: 3, ResetRequests: 10 * time.Second, RemainingTokens: 100, ResetTokens: 20 * time.Second}},
		{"garbage remaining ignored", hdr("X-Ratelimit-Remaining-Requests", "lots"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := llmhttp.RateLimit(tt.h, now)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("RateLimit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		in, want string
		secrets  []string
	}{
		{"key mykey-123456 leaked", "key [redacted] leaked", []string{"mykey-123456"}},
		{"Authorization: Bearer abc.def", "Authorization: [redacted]", nil},
		{"bad key gsk_ABCDEFGHIJKLMNOP", "bad key [redacted]", nil},
		{"bad key sk-ant-api03-ABCDEFGHIJ", "bad key [redacted]", nil},
		{"short secret abc kept", "short secret abc kept", []string{"abc"}},
		{"nothing", "nothing", nil},
	}
	for _, tt := range tests {
		if got := llmhttp.Scrub(tt.in, tt.secrets...); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPostJSON(t *testing.T) {
	const key = "secret-key-0123456789"
	var gotBody, gotCT, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 100)
		n, _ := r.Body.Read(b)
		gotBody, gotCT, gotAuth = string(b[:n]), r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("X-Ratelimit-Remaining-Requests", "4")
			w.Write([]byte(`{"ok":true}`))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		case "/401":
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"message":"Invalid API Key ` + key + `","type":"invalid_request_error","code":"invalid_api_key"}}`))
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	c := &llmhttp.Client{Provider: "p", Secrets: []string{key}, MaxBody: 50}
	h := http.Header{"Authorization": {"Bearer " + key}}
	res, err := c.PostJSON(context.Background(), srv.URL+"/ok", h, map[string]int{"a": 1})
	if err != nil || string(res.Body) != `{"ok":true}` || res.RateLimit == nil || res.RateLimit.RemainingRequests != 4 {
		t.Fatalf("ok: %+v, %v", res, err)
	}
	if gotBody != `{"a":1}` || gotCT != "application/json" || gotAuth != "Bearer "+key {
		t.Fatalf("request body %q, content type %q, auth %q", gotBody, gotCT, gotAuth)
	}
	_, err = c.PostJSON(context.Background(), srv.URL+"/big", h, nil)
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Reason != "malformed_response" {
		t.Fatalf("big body: %v", err)
	}
	res, err = c.PostJSON(context.Background(), srv.URL+"/401", h, nil)
	if !errors.As(err, &pe) || pe.Kind != examina.KindPermanent || res.Status != 401 || strings.Contains(err.Error(), key) {
		t.Fatalf("401: %v (status %d)", err, res.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = c.PostJSON(ctx, srv.URL+"/slow", h, nil)
	if !errors.As(err, &pe) || pe.Reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) || retry.Classify(err).Action != retry.Retry {
		t.Fatalf("slow: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.PostJSON(ctx, srv.URL+"/ok", h, nil)
	if !errors.Is(err, context.Canceled) || retry.Classify(err).Action != retry.Stop {
		t.Fatalf("cancelled: %v", err)
	}
	_, err = c.PostJSON(context.Background(), "http://127.0.0.1:1/x", h, nil)
	if !errors.As(err, &pe) || pe.Reason != "connection" || pe.Kind != examina.KindTransient {
		t.Fatalf("refused: %v", err)
	}
}

func TestTruncatedAndMalformed(t *testing.T) {
	if d := retry.Classify(llmhttp.Truncated("p", 200, "length")); d.Action != retry.Enlarge {
		t.Fatalf("truncated → %v", d.Action)
	}
	if d := retry.Classify(llmhttp.Malformed("p", 200, errors.New("bad json"))); d.Action != retry.Retry {
		t.Fatalf("malformed → %v", d.Action)
	}
}

func TestSummary(t *testing.T) {
	long := strings.Repeat("x", 400)
	tests := []struct {
		name, msg, want string
		n               int
	}{
		{"short", "  bad   request\n", "bad request", 300},
		{"lines joined when short", "a\n\n  b\n", "a b", 300},
		{"head and decisive last line", "Template failed:\n" + long + "\nError: roles must alternate", "Template failed: … Error: roles must alternate", 50},
		{"one long line cut", long, strings.Repeat("x", 10) + "…", 10},
	}
	for _, tt := range tests {
		if got := llmhttp.Summary(tt.msg, tt.n); got != tt.want {
			t.Errorf("%s: Summary = %q, want %q", tt.name, got, tt.want)
		}
	}
}
