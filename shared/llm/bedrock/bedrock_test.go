package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/bedrock"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

const (
	model  = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	course = examina.Course{Code: "ADE", Name: "Architettura", Language: "en"}
	ex     = examina.Exercise{ID: "e1", Number: "1", Text: "Convert 0x1F to binary.", Position: 0}
	valid  = `{"is_valid_exercise":true,"is_fragment":false,"should_merge_with_previous":false,"topic":"Number systems","core_loop_name":"Base conversion","procedure":["Split","Convert","Join"],"difficulty":"easy","variations":[],"confidence":0.7}`
)

type reply struct {
	status  int
	errType string
	body    string
	delay   time.Duration
}

func converse(text, stop string) string {
	b, _ := json.Marshal(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]any{"text": text}}}},
		"stopReason": stop,
		"usage":      map[string]any{"inputTokens": 400, "outputTokens": 80, "totalTokens": 480},
		"metrics":    map[string]any{"latencyMs": 900},
	})
	return string(b)
}

type fake struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	auth   []string
	bodies []map[string]any
}

func newFake(t *testing.T, replies ...reply) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		f.mu.Lock()
		n := len(f.paths)
		f.paths = append(f.paths, r.Method+" "+r.URL.EscapedPath())
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.bodies = append(f.bodies, m)
		f.mu.Unlock()
		rp := replies[min(n, len(replies)-1)]
		if rp.delay > 0 {
			select {
			case <-time.After(rp.delay):
			case <-r.Context().Done():
				return
			}
		}
		if rp.errType != "" {
			w.Header().Set("X-Amzn-ErrorType", rp.errType+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(max(rp.status, 200))
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.paths)
}

func client(t *testing.T, f *fake, structured bool) *bedrock.Client {
	awsCfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", secret, ""), HTTPClient: f.Client()}
	c, err := bedrock.New(context.Background(), bedrock.Config{Model: model, Structured: structured, API: bedrock.NewRuntime(awsCfg)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request() examina.Request {
	return examina.Request{Prompt: analysis.Build(course, "en", ex, ""), Schema: analysis.Schema(), MaxTokens: 1024}
}

func TestRequestWireFormat(t *testing.T) {
	f := newFake(t, reply{body: converse(valid, "end_turn")})
	resp, err := client(t, f, true).Complete(context.Background(), request())
	if err != nil || resp.Text != valid || resp.InputTokens != 400 || resp.OutputTokens != 80 || resp.HTTPStatus != 200 {
		t.Fatalf("Complete = %+v, %v", resp, err)
	}
	if want := "POST /model/" + strings.ReplaceAll(model, ":", "%3A") + "/converse"; f.paths[0] != want {
		t.Fatalf("path %q, want %q", f.paths[0], want)
	}
	if !strings.HasPrefix(f.auth[0], "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") {
		t.Fatalf("authorization %q", f.auth[0])
	}
	b := f.bodies[0]
	ic := b["inferenceConfig"].(map[string]any)
	tf := b["outputConfig"].(map[string]any)["textFormat"].(map[string]any)
	js := tf["structure"].(map[string]any)["jsonSchema"].(map[string]any)
	if ic["maxTokens"] != 1024.0 || tf["type"] != "json_schema" || js["schema"] != string(analysis.Schema()) {
		t.Fatalf("body %v", b)
	}
	if sys := b["system"].([]any); len(sys) != 1 {
		t.Fatalf("system %v", sys)
	}
}

// TestRepairAlternates: Converse requires alternating roles, so a repair sends the
// rejected answer as the assistant's turn, then the instruction as the user's.
func TestRepairAlternates(t *testing.T) {
	f := newFake(t, reply{body: converse(valid, "end_turn")})
	req := request()
	req.Repair = "fix the confidence"
	req.Rejected = `{"confidence": 46E2550782}`
	if _, err := client(t, f, true).Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range f.bodies[0]["messages"].([]any) {
		m := m.(map[string]any)
		got = append(got, m["role"].(string)+"="+m["content"].([]any)[0].(map[string]any)["text"].(string))
	}
	want := []string{"user=" + req.Prompt.User, "assistant=" + req.Rejected, "user=fix the confidence"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages %q, want %q", got, want)
	}
}

func TestUnstructured(t *testing.T) {
	f := newFake(t, reply{body: converse("```json\n"+valid+"\n```", "end_turn")})
	resp, err := client(t, f, false).Complete(context.Background(), request())
	if err != nil || f.bodies[0]["outputConfig"] != nil {
		t.Fatalf("Complete = %v, outputConfig %v", err, f.bodies[0]["outputConfig"])
	}
	if _, err := analysis.Parse(resp.Text); err != nil {
		t.Fatalf("fenced answer does not parse: %v", err)
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name   string
		reply  reply
		reason string
		kind   examina.Kind
		rl     bool
	}{
		{"max_tokens", reply{body: converse(`{"topic":`, "max_tokens")}, "truncated", examina.KindTransient, false},
		{"throttled", reply{status: 429, errType: "ThrottlingException", body: `{"message":"Too many requests, please wait before trying again."}`}, "rate_limited", examina.KindTransient, true},
		{"unavailable", reply{status: 503, errType: "ServiceUnavailableException", body: `{"message":"unavailable"}`}, "unavailable", examina.KindTransient, true},
		{"internal", reply{status: 500, errType: "InternalServerException", body: `{"message":"internal"}`}, "server_error", examina.KindTransient, false},
		{"model timeout", reply{status: 408, errType: "ModelTimeoutException", body: `{"message":"timeout"}`}, "timeout", examina.KindTransient, false},
		{"validation", reply{status: 400, errType: "ValidationException", body: `{"message":"The provided model identifier is invalid."}`}, "bad_request", examina.KindPermanent, false},
		{"access denied", reply{status: 403, errType: "AccessDeniedException", body: `{"message":"You don't have access to the model"}`}, "forbidden", examina.KindPermanent, false},
		{"not found", reply{status: 404, errType: "ResourceNotFoundException", body: `{"message":"no such model"}`}, "not_found", examina.KindPermanent, false},
		{"empty", reply{body: converse("", "end_turn")}, "invalid_output", examina.KindInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			resp, err := client(t, f, true).Complete(context.Background(), request())
			var pe *examina.ProviderError
			if !errors.As(err, &pe) || pe.Reason != tt.reason || pe.Kind != tt.kind || pe.RateLimit != tt.rl {
				t.Fatalf("error %#v, want %q %v", err, tt.reason, tt.kind)
			}
			if f.hits() != 1 {
				t.Fatalf("server hit %d times: the SDK retried", f.hits())
			}
			if tt.reason == "truncated" && resp.OutputTokens != 80 {
				t.Fatalf("tokens missing: %+v", resp)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatal("secret in error")
			}
		})
	}
}

func TestSlowerThanTimeout(t *testing.T) {
	f := newFake(t, reply{delay: 30 * time.Second, body: converse(valid, "end_turn")})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client(t, f, true).Complete(ctx, request())
	// The bound only tells "returned at the deadline" from "waited for the 30 s answer".
	if d := retry.Classify(err); d.Action != retry.Retry || time.Since(start) > 15*time.Second {
		t.Fatalf("Complete = %v (%v) after %v", err, d, time.Since(start))
	}
}

func TestThroughAnalyzer(t *testing.T) {
	throttled := reply{status: 429, errType: "ThrottlingException", body: `{"message":"Too many requests"}`}
	ok := reply{body: converse(valid, "end_turn")}
	tests := []struct {
		name     string
		replies  []reply
		status   examina.Status
		attempts int
	}{
		{"throttled then ok", []reply{throttled, throttled, ok}, examina.StatusOK, 3},
		{"access denied not retried", []reply{{status: 403, errType: "AccessDeniedException", body: `{"message":"no"}`}, ok}, examina.StatusDegraded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			a := &pipeline.Analyzer{Provider: client(t, f, true), Policy: retry.DefaultPolicy(), Clock: retrytest.NewClock(time.Unix(0, 0)), Language: "en"}
			out, _ := a.Analyze(context.Background(), course, ex, "")
			if out.Status != tt.status || out.Attempts != tt.attempts || f.hits() != tt.attempts {
				t.Fatalf("status %s after %d attempts, %d hits", out.Status, out.Attempts, f.hits())
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := bedrock.New(context.Background(), bedrock.Config{}); examina.KindOf(err) != examina.KindInvalid {
		t.Fatalf("New without a model = %v", err)
	}
}
