package llmhttp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
)

// FuzzRetryAfter feeds hostile header values: the wait is never negative nor above a day,
// and the announced budget is never negative.
func FuzzRetryAfter(f *testing.F) {
	f.Add("12", "250", "2m59.56s", "0", "2026-03-01T12:00:40Z")
	f.Add("Sun, 01 Mar 2026 12:00:30 GMT", "", "7.66s", "x", "")
	f.Add("-1", "NaN", "-5s", "-3", "not a time")
	f.Fuzz(func(t *testing.T, retryAfter, ms, reset, remaining, anthReset string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Retry-After-Ms", ms)
		h.Set("X-Ratelimit-Reset-Tokens", reset)
		h.Set("X-Ratelimit-Remaining-Tokens", remaining)
		h.Set("Anthropic-Ratelimit-Requests-Remaining", remaining)
		h.Set("Anthropic-Ratelimit-Requests-Reset", anthReset)
		d := llmhttp.RetryAfter(h, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("RetryAfter = %v", d)
		}
		if rl := llmhttp.RateLimit(h, now); rl != nil {
			if rl.RemainingRequests < -1 || rl.RemainingTokens < -1 || rl.ResetRequests < 0 || rl.ResetTokens < 0 {
				t.Fatalf("RateLimit = %+v", rl)
			}
		}
	})
}

// FuzzResponseError feeds arbitrary error bodies: the error is always classified, and a
// secret in the body never reaches the message.
func FuzzResponseError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"message":"Rate limit","code":"rate_limit_exceeded"}}`))
	f.Add(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	f.Add(404, []byte(`{"error":"model not found"}`))
	f.Add(400, []byte(`{"error":{"message":"x","code":12}}`))
	f.Add(502, []byte("<html>bad gateway</html>"))
	f.Add(400, []byte(`{"error":{"code":400,"message":"Unable to generate parser for this template.\n------------\n...raise_exception('Conversation roles must alternate user...\n   ^\nError: Jinja Exception: Conversation roles must alternate user/assistant/user/assistant/...","type":"invalid_request_error"}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 400 || status > 599 {
			status = 400 + (status%200+200)%200
		}
		const secret = "the-secret-key-42"
		b := append(append([]byte{}, body...), []byte(secret)...)
		pe := llmhttp.ResponseError("p", status, http.Header{}, b, now, secret)
		switch pe.Kind {
		case examina.KindTransient, examina.KindPermanent, examina.KindInvalid:
		default:
			t.Fatalf("kind %v for %d %q", pe.Kind, status, body)
		}
		if strings.Contains(pe.Error(), secret) {
			t.Fatalf("secret in %q", pe.Error())
		}
		// One line of at most 300 runes (plus an ellipsis), whatever the body.
		if strings.ContainsAny(pe.Message, "\n\r") || utf8.RuneCountInString(pe.Message) > 301 {
			t.Fatalf("message %q: want one line of at most 301 runes", pe.Message)
		}
	})
}
