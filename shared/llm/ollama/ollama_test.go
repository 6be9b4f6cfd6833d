package ollama_test

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

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/ollama"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

var (
	course = examina.Course{Code: "ADE", Name: "Architettura", Language: "en"}
	ex     = examina.Exercise{ID: "e1", Number: "1", Text: "Convert 0x1F to binary.", Position: 0}
	valid  = `{"is_valid_exercise":true,"is_fragment":false,"should_merge_with_previous":false,"topic":"Number systems","core_loop_name":"Base conversion","procedure":["Split","Convert","Join"],"difficulty":"easy","variations":[],"confidence":0.7}`
)

type reply struct {
	status int
	body   string
	delay  time.Duration
}

func chat(content, doneReason string) string {
	b, _ := json.Marshal(map[string]any{"model": "qwen3:8b", "created_at": "2026-03-01T12:00:00Z",
		"message": map[string]any{"role": "assistant", "content": content}, "done": true, "done_reason": doneReason,
		"total_duration": 123, "prompt_eval_count": 210, "eval_count": 60})
	return string(b)
}

type fake struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	bodies []map[string]any
	show   string // the body of POST /api/show; "": 404
	shows  int    // /api/show requests, not counted in paths
}

func (f *fake) setShow(body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.show = body
}

func newFake(t *testing.T, replies ...reply) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		f.mu.Lock()
		if r.URL.Path == "/api/show" {
			f.shows++
			show := f.show
			f.mu.Unlock()
			if show == "" {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":"model not found"}`)
				return
			}
			io.WriteString(w, show)
			return
		}
		n := len(f.paths)
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
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
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(max(rp.status, 200))
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func request() examina.Request {
	return examina.Request{Prompt: analysis.Build(course, "en", ex, ""), Schema: analysis.Schema(), MaxTokens: 1024}
}

func client(t *testing.T, f *fake) *ollama.Client {
	c, err := ollama.New(ollama.Config{Host: f.URL, Model: "qwen3:8b"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHostURL(t *testing.T) {
	tests := map[string]string{
		"":                         "http://127.0.0.1:11434",
		"localhost":                "http://localhost:11434",
		"0.0.0.0":                  "http://127.0.0.1:11434",
		"0.0.0.0:8080":             "http://127.0.0.1:8080",
		"gpu-box:11500":            "http://gpu-box:11500",
		"https://ollama.example/":  "https://ollama.example:11434",
		"http://10.0.0.2:11434/":   "http://10.0.0.2:11434",
		"http://proxy:8080/ollama": "http://proxy:8080/ollama",
		"[::1]":                    "http://[::1]:11434",
		"[::1]:9000":               "http://[::1]:9000",
	}
	for in, want := range tests {
		if got, err := ollama.HostURL(in); got != want || err != nil {
			t.Errorf("HostURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "aa#://0", "http://", "http://u:p@h"} {
		if got, err := ollama.HostURL(bad); examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("HostURL(%q) = %q, %v; want an invalid error", bad, got, err)
		}
	}
	if _, err := ollama.New(ollama.Config{}); examina.KindOf(err) != examina.KindInvalid {
		t.Errorf("New without a model = %v", err)
	}
}

func TestRequestWireFormat(t *testing.T) {
	f := newFake(t, reply{body: chat(valid, "stop")})
	req := request()
	req.Repair = "fix it"
	req.Rejected = `{"topic": 3}`
	resp, err := client(t, f).Complete(context.Background(), req)
	if err != nil || resp.Text != valid || resp.InputTokens != 210 || resp.OutputTokens != 60 || resp.HTTPStatus != 200 {
		t.Fatalf("Complete = %+v, %v", resp, err)
	}
	b := f.bodies[0]
	var schema any
	json.Unmarshal(analysis.Schema(), &schema)
	fs, _ := json.Marshal(b["format"])
	ws, _ := json.Marshal(schema)
	msgs := b["messages"].([]any)
	if f.paths[0] != "POST /api/chat" || b["model"] != "qwen3:8b" || b["stream"] != false || string(fs) != string(ws) ||
		b["options"].(map[string]any)["num_predict"] != 1024.0 || len(msgs) != 4 {
		t.Fatalf("request %s %v", f.paths[0], b)
	}
	// The repair quotes the rejected answer as the assistant's turn: roles alternate.
	var roles []string
	for _, m := range msgs {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if strings.Join(roles, ",") != "system,user,assistant,user" || msgs[2].(map[string]any)["content"] != req.Rejected || msgs[3].(map[string]any)["content"] != "fix it" {
		t.Fatalf("repair messages %v", msgs)
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name   string
		reply  reply
		want   string
		reason string
		kind   examina.Kind
	}{
		{"ok", reply{body: chat(valid, "stop")}, valid, "", 0},
		{"fenced", reply{body: chat("```json\n"+valid+"\n```", "stop")}, "```json\n" + valid + "\n```", "", 0},
		{"think", reply{body: chat("<think>so {</think>\n"+valid, "stop")}, "<think>so {</think>\n" + valid, "", 0},
		{"length", reply{body: chat(`{"topic": "Num`, "length")}, "", "truncated", examina.KindTransient},
		{"model not pulled", reply{status: 404, body: `{"error":"model 'qwen3:8b' not found, try pulling it first"}`}, "", "not_found", examina.KindPermanent},
		{"429", reply{status: 429, body: `{"error":"server busy"}`}, "", "rate_limited", examina.KindTransient},
		{"500", reply{status: 500, body: `{"error":"llama runner process has terminated"}`}, "", "server_error", examina.KindTransient},
		{"503", reply{status: 503, body: `{"error":"server busy, please try again"}`}, "", "unavailable", examina.KindTransient},
		{"401", reply{status: 401, body: `{"error":"unauthorized"}`}, "", "unauthorized", examina.KindPermanent},
		{"malformed", reply{body: `{"message": {"content": `}, "", "malformed_response", examina.KindTransient},
		{"empty", reply{body: chat("", "stop")}, "", "invalid_output", examina.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client(t, newFake(t, tt.reply)).Complete(context.Background(), request())
			if tt.reason == "" {
				if err != nil || resp.Text != tt.want {
					t.Fatalf("Complete = %q, %v", resp.Text, err)
				}
				if _, err := analysis.Parse(resp.Text); err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *examina.ProviderError
			if !errors.As(err, &pe) || pe.Reason != tt.reason || pe.Kind != tt.kind {
				t.Fatalf("error %#v, want %q %v", err, tt.reason, tt.kind)
			}
		})
	}
}

func TestSlowerThanTimeout(t *testing.T) {
	f := newFake(t, reply{delay: 3 * time.Second, body: chat(valid, "stop")})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client(t, f).Complete(ctx, request())
	if d := retry.Classify(err); d.Action != retry.Retry || d.Reason != "timeout" {
		t.Fatalf("Complete = %v (%v)", err, d)
	}
}

func TestThroughAnalyzer(t *testing.T) {
	tests := []struct {
		name     string
		replies  []reply
		status   examina.Status
		attempts int
	}{
		{"500 then ok", []reply{{status: 500, body: `{"error":"boom"}`}, {body: chat(valid, "stop")}}, examina.StatusOK, 2},
		{"404 not retried", []reply{{status: 404, body: `{"error":"model not found"}`}, {body: chat(valid, "stop")}}, examina.StatusDegraded, 1},
		{"length then ok with a larger budget", []reply{{body: chat(`{"to`, "length")}, {body: chat(valid, "stop")}}, examina.StatusOK, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			a := &pipeline.Analyzer{Provider: client(t, f), Policy: retry.DefaultPolicy(), Clock: retrytest.NewClock(time.Unix(0, 0)), Language: "en"}
			out, _ := a.Analyze(context.Background(), course, ex, "")
			if out.Status != tt.status || out.Attempts != tt.attempts || len(f.paths) != tt.attempts {
				t.Fatalf("status %s after %d attempts (%d requests)", out.Status, out.Attempts, len(f.paths))
			}
			if tt.attempts == 2 && tt.name[:6] == "length" && f.bodies[1]["options"].(map[string]any)["num_predict"] != 2048.0 {
				t.Fatalf("second budget %v", f.bodies[1]["options"])
			}
		})
	}
}

// qwen3Show is POST /api/show for qwen3:8b, in Ollama's shape.
const qwen3Show = `{"modelfile":"FROM qwen3:8b","parameters":"repeat_penalty 1\nstop \"<|im_start|>\"\ntemperature 0.6\nnum_ctx 8192","template":"...","details":{"family":"qwen3","parameter_size":"8.2B"},"model_info":{"general.architecture":"qwen3","qwen3.context_length":40960},"capabilities":["completion","tools","thinking"]}`

// TestThinkingModel: qwen3 thinks by default and can spend the budget on it; a model
// with the thinking capability gets think false, one without gets no field, and a
// server that refuses the field is asked again without it.
func TestThinkingModel(t *testing.T) {
	tests := []struct {
		name      string
		show      string
		replies   []reply
		wantThink []any // the think field of each chat request (nil: absent)
	}{
		{"qwen3", qwen3Show, []reply{{body: chat(valid, "stop")}}, []any{false}},
		{"no thinking capability", `{"parameters":"","model_info":{"llama.context_length":131072},"capabilities":["completion","tools"]}`, []reply{{body: chat(valid, "stop")}}, []any{nil}},
		{"no /api/show", "", []reply{{body: chat(valid, "stop")}}, []any{nil}},
		{"field refused", qwen3Show, []reply{{status: 400, body: `{"error":"\"qwen3:8b\" does not support thinking"}`}, {body: chat(valid, "stop")}}, []any{false, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			f.setShow(tt.show)
			c := client(t, f)
			if _, err := c.Complete(context.Background(), request()); err != nil {
				t.Fatal(err)
			}
			if len(f.bodies) != len(tt.wantThink) {
				t.Fatalf("%d chat requests, want %d", len(f.bodies), len(tt.wantThink))
			}
			for i, want := range tt.wantThink {
				if got := f.bodies[i]["think"]; got != want {
					t.Fatalf("request %d think = %v, want %v", i, got, want)
				}
			}
			c.Complete(context.Background(), request())
			if f.shows != 1 {
				t.Fatalf("/api/show asked %d times, want once", f.shows)
			}
		})
	}
}

func TestContextWindow(t *testing.T) {
	tests := []struct {
		show string
		want int
	}{
		{qwen3Show, 8192}, // the Modelfile's num_ctx
		{`{"parameters":"temperature 0.6","model_info":{"qwen3.context_length":40960},"capabilities":["completion"]}`, 40960},
		{"", 0},
	}
	for _, tt := range tests {
		f := newFake(t, reply{body: chat(valid, "stop")})
		f.setShow(tt.show)
		got, ok := client(t, f).ContextWindow(context.Background())
		if got != tt.want || ok != (tt.want > 0) {
			t.Errorf("ContextWindow with %.40q = %d, %v; want %d", tt.show, got, ok, tt.want)
		}
	}
}

func TestOnlyThinking(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"model": "qwen3:8b", "message": map[string]any{"role": "assistant", "content": "", "thinking": "Okay, let me think about the exercise..."}, "done": true, "done_reason": "stop"})
	_, err := client(t, newFake(t, reply{body: string(b)})).Complete(context.Background(), request())
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Kind != examina.KindInvalid || !strings.Contains(pe.Message, "only thought") {
		t.Fatalf("err = %v, want an invalid answer that says the model only thought", err)
	}
}
