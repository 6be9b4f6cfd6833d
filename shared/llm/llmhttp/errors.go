package llmhttp

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ResponseError turns a non-2xx response into a *examina.ProviderError:
//
//   - transient: 408, 409, 425, 429, 498, 5xx, 529; RateLimit set for 429, 498, 503
//     and 529 (the provider is shedding load); RetryAfter from RetryAfter;
//   - permanent: 400, 401, 403, 404, 413, 422 and any other 4xx, and a 429 that
//     reports an exhausted spend limit or quota (Anthropic's spend limit, OpenAI's
//     insufficient_quota), which waiting will not fix;
//   - invalid (one repair attempt): Groq's 400 json_validate_failed, the model's
//     output failing the requested JSON schema.
//
// Code is the provider's error code or type; Message its message, scrubbed of
// secrets and capped.
func ResponseError(provider string, status int, h http.Header, body []byte, now time.Time, secrets ...string) *examina.ProviderError {
	e := parseErrorBody(body)
	pe := &examina.ProviderError{Provider: provider, HTTPStatus: status, Code: e.code()}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	pe.Message = Summary(Scrub(msg, secrets...), maxMessage)
	switch {
	case status == http.StatusTooManyRequests && quotaExhausted(e):
		pe.Kind, pe.Reason = examina.KindPermanent, "quota_exhausted"
	case status == http.StatusTooManyRequests:
		pe.Kind, pe.Reason, pe.RateLimit = examina.KindTransient, "rate_limited", true
	case status == 529 || e.Type == "overloaded_error":
		pe.Kind, pe.Reason, pe.RateLimit = examina.KindTransient, "overloaded", true
	case status == http.StatusServiceUnavailable:
		pe.Kind, pe.Reason, pe.RateLimit = examina.KindTransient, "unavailable", true
	case status == 498: // Groq: flex tier capacity exceeded
		pe.Kind, pe.Reason, pe.RateLimit = examina.KindTransient, "capacity_exceeded", true
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		pe.Kind, pe.Reason = examina.KindTransient, "timeout"
	case status == http.StatusConflict || status == http.StatusTooEarly:
		pe.Kind, pe.Reason = examina.KindTransient, "conflict"
	case status >= 500:
		pe.Kind, pe.Reason = examina.KindTransient, "server_error"
	case status == http.StatusBadRequest && pe.Code == "json_validate_failed":
		pe.Kind, pe.Reason = examina.KindInvalid, "invalid_output"
		if e.FailedGeneration != "" {
			pe.Message = truncate(pe.Message+"; the output was: "+Scrub(e.FailedGeneration, secrets...), 600)
		}
	case status == http.StatusUnauthorized:
		pe.Kind, pe.Reason = examina.KindPermanent, "unauthorized"
	case status == http.StatusForbidden:
		pe.Kind, pe.Reason = examina.KindPermanent, "forbidden"
	case status == http.StatusNotFound:
		pe.Kind, pe.Reason = examina.KindPermanent, "not_found"
	case status == http.StatusRequestEntityTooLarge:
		pe.Kind, pe.Reason = examina.KindPermanent, "too_large"
	default:
		pe.Kind, pe.Reason = examina.KindPermanent, "bad_request"
	}
	if pe.Kind == examina.KindTransient {
		pe.RetryAfter = RetryAfter(h, now)
	}
	return pe
}

// errorBody is the union of the providers' error bodies: OpenAI and Groq
// {"error":{"message","type","code"}}, Anthropic {"type":"error","error":{"type",
// "message"}}, Ollama {"error":"message"}.
type errorBody struct {
	Message          string
	Type             string
	Code             string
	FailedGeneration string
}

func (e errorBody) code() string {
	if e.Code != "" {
		return e.Code
	}
	return e.Type
}

func parseErrorBody(body []byte) errorBody {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return errorBody{Message: plain(body)}
	}
	var s string
	if json.Unmarshal(env.Error, &s) == nil {
		return errorBody{Message: s}
	}
	var obj struct {
		Message          string          `json:"message"`
		Type             string          `json:"type"`
		Code             json.RawMessage `json:"code"`
		FailedGeneration string          `json:"failed_generation"`
	}
	if json.Unmarshal(env.Error, &obj) == nil && (obj.Message != "" || obj.Type != "") {
		e := errorBody{Message: obj.Message, Type: obj.Type, FailedGeneration: obj.FailedGeneration}
		// A string code is the provider's ("rate_limit_exceeded"); a number is only the
		// HTTP status again (llama-server sends "code": 400), so the type names the error.
		var code string
		if json.Unmarshal(obj.Code, &code) == nil {
			e.Code = code
		}
		return e
	}
	return errorBody{Message: env.Message}
}

// plain renders a non-JSON body (an HTML error page, plain text) as a short message.
func plain(body []byte) string {
	if !utf8.Valid(body) {
		return ""
	}
	return strings.Join(strings.Fields(string(body)), " ")
}

func quotaExhausted(e errorBody) bool {
	for _, s := range []string{e.Code, e.Type, strings.ToLower(e.Message)} {
		if strings.Contains(s, "spend_limit") || strings.Contains(s, "spend limit") ||
			strings.Contains(s, "insufficient_quota") || strings.Contains(s, "billing_hard_limit") {
			return true
		}
	}
	return false
}

// RetryAfter is the longest wait the headers ask for, relative to now: Retry-After
// (seconds or an HTTP date), retry-after-ms, OpenAI/Groq x-ratelimit-reset-requests and
// x-ratelimit-reset-tokens (Go-style durations such as "2m59.56s" or "12ms") and
// Anthropic anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset
// (RFC 3339 instants). A reset header counts only when its budget is exhausted
// (the matching remaining header is 0 or absent): Groq's request reset refers to the
// daily budget, which a per-minute token limit does not touch. 0 when nothing applies.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	var longest time.Duration
	take := func(d time.Duration) {
		if d > longest {
			longest = min(d, maxWait)
		}
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			take(fromFloat(ms, time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			take(fromFloat(s, time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			take(t.Sub(now))
		}
	}
	for _, kind := range []string{"requests", "tokens"} {
		if exhausted(h, "X-Ratelimit-Remaining-"+kind) {
			take(parseReset(h.Get("X-Ratelimit-Reset-" + kind)))
		}
	}
	for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if exhausted(h, "Anthropic-Ratelimit-"+kind+"-Remaining") {
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get("Anthropic-Ratelimit-"+kind+"-Reset"))); err == nil {
				take(t.Sub(now))
			}
		}
	}
	return longest
}

// exhausted reports whether the remaining-budget header is absent or at most 0.
func exhausted(h http.Header, key string) bool {
	v := strings.TrimSpace(h.Get(key))
	if v == "" {
		return true
	}
	n, err := strconv.ParseFloat(v, 64)
	return err == nil && n <= 0
}

// parseReset reads an OpenAI-style reset: a Go duration ("1m30.5s", "12ms") or plain
// seconds ("1.5"). 0 when unreadable.
func parseReset(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil {
		return min(max(d, 0), maxWait)
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return fromFloat(s, time.Second)
	}
	return 0
}

// maxWait bounds every wait read from headers, so hostile values cannot overflow.
const maxWait = 24 * time.Hour

// fromFloat converts n units to a Duration, clamped to [0, 24h] so hostile headers
// neither overflow nor go negative.
func fromFloat(n float64, unit time.Duration) time.Duration {
	if math.IsNaN(n) || n <= 0 {
		return 0
	}
	if n*float64(unit) >= float64(maxWait) {
		return maxWait
	}
	return time.Duration(n * float64(unit))
}

// RateLimit reads the remaining budget announced by OpenAI/Groq (x-ratelimit-remaining-*
// and x-ratelimit-reset-*) or Anthropic (anthropic-ratelimit-*-remaining and -reset)
// headers. For Anthropic the tokens budget is the tightest of tokens, input-tokens and
// output-tokens. nil when no such header is present.
func RateLimit(h http.Header, now time.Time) *examina.RateLimitInfo {
	info := examina.RateLimitInfo{RemainingRequests: -1, RemainingTokens: -1}
	found := false
	if n, ok := count(h.Get("X-Ratelimit-Remaining-Requests")); ok {
		info.RemainingRequests, found = n, true
		info.ResetRequests = parseReset(h.Get("X-Ratelimit-Reset-Requests"))
	}
	if n, ok := count(h.Get("X-Ratelimit-Remaining-Tokens")); ok {
		info.RemainingTokens, found = n, true
		info.ResetTokens = parseReset(h.Get("X-Ratelimit-Reset-Tokens"))
	}
	reset := func(kind string) time.Duration {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get("Anthropic-Ratelimit-"+kind+"-Reset")))
		if err != nil {
			return 0
		}
		return min(max(t.Sub(now), 0), maxWait)
	}
	if n, ok := count(h.Get("Anthropic-Ratelimit-Requests-Remaining")); ok {
		info.RemainingRequests, info.ResetRequests, found = n, reset("requests"), true
	}
	for _, kind := range []string{"tokens", "input-tokens", "output-tokens"} {
		n, ok := count(h.Get("Anthropic-Ratelimit-" + kind + "-Remaining"))
		if !ok {
			continue
		}
		found = true
		if info.RemainingTokens < 0 || n < info.RemainingTokens {
			info.RemainingTokens, info.ResetTokens = n, reset(kind)
		}
	}
	if !found {
		return nil
	}
	return &info
}

func count(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) {
		return 0, false
	}
	return int(min(max(n, 0), math.MaxInt32)), true
}

// keyLike matches strings shaped like common API keys (OpenAI "sk-…", Anthropic
// "sk-ant-…", Groq "gsk_…") and bearer tokens, scrubbed even when not listed.
var keyLike = regexp.MustCompile(`(?i)(bearer\s+\S+|\b(sk-ant-|sk-|gsk_|xai-)[A-Za-z0-9_\-]{8,})`)

// Scrub replaces every secret (and anything shaped like an API key) in s with
// "[redacted]". Secrets shorter than 4 bytes are ignored.
func Scrub(s string, secrets ...string) string {
	for _, k := range secrets {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return keyLike.ReplaceAllString(s, "[redacted]")
}

// maxMessage bounds the runes of a provider's error message kept in an error.
const maxMessage = 300

// Summary renders a provider's error message on one line of at most n runes, white
// space collapsed. A longer message keeps its first line and its last one, joined by
// " … ": servers put the decisive line last, after a traceback or a template excerpt
// (llama-server's "Error: Jinja Exception: Conversation roles must alternate …").
func Summary(msg string, n int) string {
	var lines []string
	for l := range strings.Lines(msg) {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	one := strings.Join(lines, " ")
	if utf8.RuneCountInString(one) <= n || len(lines) < 2 {
		return truncate(one, n)
	}
	// The first line keeps at least a third of n (less if shorter); the last line gets
	// the rest.
	first := lines[0]
	head := min(utf8.RuneCountInString(first), n/3)
	last := truncate(lines[len(lines)-1], max(n-head-3, 1))
	return truncate(first, max(n-utf8.RuneCountInString(last)-3, 1)) + " … " + last
}

// truncate caps s at n runes, adding "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
