package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
)

// transcript is one exchange recorded from llama.cpp's llama-server
// (testdata/llama-server/README.md).
type transcript struct {
	Status          int               `json:"status"`
	RequestPath     string            `json:"request_path"`
	RequestBody     map[string]any    `json:"request_body"`
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    string            `json:"response_body"`
}

func loadTranscript(t *testing.T, name string) transcript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "llama-server", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// content is the assistant message of a 200 transcript.
func (tr transcript) content(t *testing.T) string {
	t.Helper()
	var r struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(tr.ResponseBody), &r); err != nil || len(r.Choices) == 0 {
		t.Fatalf("transcript body: %v", err)
	}
	return r.Choices[0].Message.Content
}

func (tr transcript) write(w http.ResponseWriter) {
	for k, v := range tr.ResponseHeaders {
		if k != "Content-Length" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(tr.Status)
	io.WriteString(w, tr.ResponseBody)
}

// llamaServer replays llama-server: its Llama-2-chat template refuses roles that do
// not alternate after the system prompt with the recorded 400; every other chat
// request gets answer(n, messages), n counting from 0.
type llamaServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests [][]map[string]any
	budgets  []float64 // max_tokens of each chat request
	props    string    // the body of GET /props; "": 404
}

func (ls *llamaServer) setProps(body string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.props = body
}

func newLlamaServer(t *testing.T, answer func(n int, msgs []map[string]any) transcript) *llamaServer {
	t.Helper()
	refuse := loadTranscript(t, "repair-roles-must-alternate-400")
	ls := &llamaServer{}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/props" && r.Method == http.MethodGet {
			ls.mu.Lock()
			props := ls.props
			ls.mu.Unlock()
			if props != "" {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, props)
				return
			}
		}
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Messages  []map[string]any `json:"messages"`
			MaxTokens float64          `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ls.mu.Lock()
		n := len(ls.requests)
		ls.requests = append(ls.requests, body.Messages)
		ls.budgets = append(ls.budgets, body.MaxTokens)
		ls.mu.Unlock()
		if !alternates(body.Messages) {
			refuse.write(w)
			return
		}
		answer(n, body.Messages).write(w)
	}))
	t.Cleanup(ls.Close)
	return ls
}

// alternates applies the Llama-2-chat template's rule: after an optional system
// message, user and assistant alternate, starting with user.
func alternates(msgs []map[string]any) bool {
	if len(msgs) > 0 && msgs[0]["role"] == "system" {
		msgs = msgs[1:]
	}
	for i, m := range msgs {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m["role"] != want {
			return false
		}
	}
	return true
}

func (ls *llamaServer) roles(n int) []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []string
	for _, m := range ls.requests[n] {
		out = append(out, m["role"].(string))
	}
	return out
}

func localClient(t *testing.T, url string) *openai.Client {
	t.Helper()
	c, err := openai.New(openai.Config{Name: "openai", BaseURL: url + "/v1", Model: "tiny", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRepairAlternatesRoles replays the real exchange: llama-server's grammar let the
// model answer confidence 46E2550782 (ok-stop.json); the repair used to be sent as
// [system, user, user], which the chat template refused with a 400 (8 of 21 degraded
// exercises on the ADE course). The repair now quotes the rejected answer as the
// assistant's turn and succeeds.
func TestRepairAlternatesRoles(t *testing.T) {
	okStop := loadTranscript(t, "ok-stop")
	rejected := okStop.content(t)
	ls := newLlamaServer(t, func(n int, msgs []map[string]any) transcript {
		if n == 0 {
			return okStop
		}
		return transcript{Status: 200, ResponseBody: chatBody(valid)}
	})
	a, _, logs := analyzer(localClient(t, ls.URL))
	out, err := a.Analyze(context.Background(), course, ex, "")
	if err != nil || out.Status != examina.StatusOK || out.Attempts != 2 {
		t.Fatalf("Analyze = %s after %d attempts, %v (log %+v)\n%s", out.Status, out.Attempts, err, out.AttemptLog, logs)
	}
	if got := strings.Join(ls.roles(1), ","); got != "system,user,assistant,user" {
		t.Fatalf("repair roles %s, want system,user,assistant,user", got)
	}
	ls.mu.Lock()
	msgs := ls.requests[1]
	ls.mu.Unlock()
	if msgs[2]["content"] != strings.TrimSpace(rejected) || !strings.Contains(msgs[3]["content"].(string), "46E2550782") {
		t.Fatalf("repair turns = %v / %v", msgs[2]["content"], msgs[3]["content"])
	}
}

// TestRepairWithoutRejectedText: a repair after an error that carried no answer text
// joins the instruction to the user turn, still alternating.
func TestRepairWithoutRejectedText(t *testing.T) {
	ls := newLlamaServer(t, func(int, []map[string]any) transcript {
		return transcript{Status: 200, ResponseBody: chatBody(valid)}
	})
	req := request()
	req.Repair = "Your previous answer could not be used: empty answer"
	if _, err := localClient(t, ls.URL).Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ls.roles(0), ","); got != "system,user" {
		t.Fatalf("roles %s, want system,user", got)
	}
}

func chatBody(content string) string {
	b, _ := json.Marshal(map[string]any{
		"model":   "tiny",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]any{"prompt_tokens": 900, "completion_tokens": 120},
	})
	return string(b)
}

// TestLlamaServerErrors replays llama-server's error answers: the code is its type
// (the numeric "code" is only the status again), and the message keeps its decisive
// last line ("Conversation roles must alternate"), which a cut at 300 characters lost.
func TestLlamaServerErrors(t *testing.T) {
	tests := []struct {
		file       string
		kind       examina.Kind
		code, want string
	}{
		{"repair-roles-must-alternate-400", examina.KindPermanent, "invalid_request_error", "Error: Jinja Exception: Conversation roles must alternate user/assistant/user/assistant/..."},
		{"peg-native-format-500", examina.KindTransient, "server_error", "The model produced output that does not match the expected peg-native format"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr := loadTranscript(t, tt.file)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tr.write(w) }))
			defer srv.Close()
			_, err := localClient(t, srv.URL).Complete(context.Background(), request())
			var pe *examina.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if pe.Kind != tt.kind || pe.Code != tt.code || pe.HTTPStatus != tr.Status {
				t.Fatalf("kind %v code %q status %d, want %v %q %d", pe.Kind, pe.Code, pe.HTTPStatus, tt.kind, tt.code, tr.Status)
			}
			if !strings.Contains(pe.Message, tt.want) || strings.Contains(pe.Message, "\n") || len([]rune(pe.Message)) > 301 {
				t.Fatalf("message %q (%d runes): want one line of at most 300 runes holding %q", pe.Message, len([]rune(pe.Message)), tt.want)
			}
		})
	}
}

// TestFailedAttemptsLogged: every failed attempt logs the provider's own message,
// scrubbed of the key, not only "permanent provider error".
func TestFailedAttemptsLogged(t *testing.T) {
	tr := loadTranscript(t, "repair-roles-must-alternate-400")
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 { // a 500 that echoes the key, then the template's refusal
			w.WriteHeader(500)
			io.WriteString(w, `{"error":{"code":500,"message":"upstream said: bad key `+key+`","type":"server_error"}}`)
			return
		}
		tr.write(w)
	}))
	defer srv.Close()
	c, err := openai.New(openai.Config{Name: "openai", BaseURL: srv.URL + "/v1", APIKey: key, Model: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	a, _, logs := analyzer(c)
	out, err := a.Analyze(context.Background(), course, ex, "")
	if err == nil || out.Status != examina.StatusDegraded {
		t.Fatalf("Analyze = %s, %v", out.Status, err)
	}
	l := logs.String()
	for _, want := range []string{"msg=retrying", "upstream said: bad key [redacted]", `msg="attempt failed"`, "Conversation roles must alternate", `msg="exercise degraded"`} {
		if !strings.Contains(l, want) {
			t.Errorf("logs lack %q:\n%s", want, l)
		}
	}
	if strings.Contains(l, key) {
		t.Fatal("the key leaked into the logs")
	}
	if !strings.Contains(out.Error, "Conversation roles must alternate") {
		t.Fatalf("degraded error %q lacks the decisive line", out.Error)
	}
}

// withUsage is tr with its usage replaced (a truncated answer at another budget).
func withUsage(t *testing.T, tr transcript, prompt, completion int) transcript {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(tr.ResponseBody), &body); err != nil {
		t.Fatal(err)
	}
	body["usage"] = map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
	b, _ := json.Marshal(body)
	tr.ResponseBody = string(b)
	return tr
}

// TestEnlargeCappedAtContext replays the truncated answer (truncated-length.json:
// 1054 prompt tokens, 1024 output, finish_reason length) on a server whose slot holds
// 3072 tokens (llama-server -c 12288 -np 4, /props n_ctx 3072). The enlarged attempt
// asks for what the slot leaves (2018), not 2048; when that is cut too, the context,
// not the budget, was hit: the run stops and says so instead of asking for 4096.
func TestEnlargeCappedAtContext(t *testing.T) {
	trunc := loadTranscript(t, "truncated-length")
	ls := newLlamaServer(t, func(n int, _ []map[string]any) transcript {
		if n == 0 {
			return trunc
		}
		return withUsage(t, trunc, 1054, 3072-1054)
	})
	ls.setProps(`{"default_generation_settings":{"n_ctx":3072,"params":{"n_predict":-1}},"total_slots":4,"model_path":"tiny.gguf"}`)
	a, _, _ := analyzer(localClient(t, ls.URL))
	out, err := a.Analyze(context.Background(), course, ex, "")
	if err == nil || out.Status != examina.StatusDegraded {
		t.Fatalf("Analyze = %s, %v; want degraded", out.Status, err)
	}
	ls.mu.Lock()
	budgets := append([]float64(nil), ls.budgets...)
	ls.mu.Unlock()
	if len(budgets) != 2 || budgets[0] != 1024 || budgets[1] != 2018 {
		t.Fatalf("budgets %v, want [1024 2018]: the second capped at the slot's 3072 - 1054 prompt tokens, no third", budgets)
	}
	if first := out.AttemptLog[0].Error; !strings.Contains(first, "output hit the 1024-token budget") {
		t.Fatalf("first attempt error %q: want the budget named", first)
	}
	if !strings.Contains(out.Error, "context of 3072 tokens") || !strings.Contains(err.Error(), "model's context") {
		t.Fatalf("degraded with %q / %v: want the model's context named", out.Error, err)
	}
}

// TestPropsAbsent: a server without /props (OpenAI-like) leaves the budgets alone.
func TestPropsAbsent(t *testing.T) {
	trunc := loadTranscript(t, "truncated-length")
	ls := newLlamaServer(t, func(n int, _ []map[string]any) transcript {
		if n < 2 {
			return trunc
		}
		return transcript{Status: 200, ResponseBody: chatBody(valid)}
	})
	a, _, _ := analyzer(localClient(t, ls.URL))
	if out, err := a.Analyze(context.Background(), course, ex, ""); err != nil || out.Attempts != 3 {
		t.Fatalf("Analyze = %d attempts, %v", out.Attempts, err)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if fmt.Sprint(ls.budgets) != "[1024 2048 4096]" {
		t.Fatalf("budgets %v", ls.budgets)
	}
}
