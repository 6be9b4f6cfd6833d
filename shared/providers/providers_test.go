package providers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDetect(t *testing.T) {
	tests := []struct {
		env  func(string) string
		want string
	}{
		{env(), providers.Offline},
		{env("OPENAI_BASE_URL", "http://localhost:8080/v1"), providers.OpenAI},
		{env("OPENAI_API_KEY", "k"), providers.OpenAI},
		{env("OPENAI_API_KEY", "k", "ANTHROPIC_API_KEY", "a"), providers.Anthropic},
		{env("OPENAI_API_KEY", "k", "ANTHROPIC_API_KEY", "a", "GROQ_API_KEY", "g"), providers.Groq},
	}
	for _, tt := range tests {
		name, why := providers.Detect(tt.env)
		if name != tt.want || why == "" {
			t.Errorf("Detect = %q (%q), want %q", name, why, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	cfg := providers.FromEnv(env("GROQ_API_KEY", "gsk_x", "ANTHROPIC_API_KEY", "a", "EXAMINA_RPM", "12", "EXAMINA_TPM", "oops", "EXAMINA_TIMEOUT", "30s"))
	if cfg.Name != providers.Groq || cfg.APIKey != "gsk_x" || cfg.RPM != 12 || cfg.TPM != 0 || cfg.Timeout != 30*time.Second {
		t.Fatalf("FromEnv = %+v", cfg)
	}
	cfg = providers.FromEnv(env("EXAMINA_PROVIDER", "Anthropic", "ANTHROPIC_API_KEY", "a", "ANTHROPIC_VERSION", "2026-10-21", "GROQ_API_KEY", "g"))
	if cfg.Name != providers.Anthropic || cfg.APIKey != "a" || cfg.AnthropicVersion != "2026-10-21" {
		t.Fatalf("FromEnv = %+v", cfg)
	}
	cfg = providers.ForProvider(providers.Ollama, env("OLLAMA_HOST", "gpu:11434", "EXAMINA_MODEL", "llama3.2"))
	if cfg.OllamaHost != "gpu:11434" || cfg.Model != "llama3.2" {
		t.Fatalf("ForProvider(ollama) = %+v", cfg)
	}
	cfg = providers.ForProvider(providers.OpenAI, env("OPENAI_BASE_URL", "http://vllm:8000/v1"))
	if cfg.BaseURL != "http://vllm:8000/v1" || cfg.APIKey != "" {
		t.Fatalf("ForProvider(openai) = %+v", cfg)
	}
	// The template's BaseUrl parameter (EXAMINA_BASE_URL) wins; ollama ignores it.
	for _, tc := range []struct{ name, want string }{
		{providers.OpenAI, "http://fake:9/v1"}, {providers.Groq, "http://fake:9/v1"},
		{providers.Anthropic, "http://fake:9/v1"}, {providers.Ollama, ""},
	} {
		cfg = providers.ForProvider(tc.name, env("EXAMINA_BASE_URL", " http://fake:9/v1 ", "OPENAI_BASE_URL", "http://other/v1"))
		if cfg.BaseURL != tc.want {
			t.Errorf("ForProvider(%s) with EXAMINA_BASE_URL: BaseURL = %q, want %q", tc.name, cfg.BaseURL, tc.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	cfg, err := providers.Config{Name: providers.Groq}.WithDefaults()
	if err != nil || cfg.Model != "openai/gpt-oss-120b" || cfg.BaseURL != "https://api.groq.com/openai/v1" || cfg.RPM != 30 || cfg.TPM != 8000 || cfg.Timeout != 90*time.Second {
		t.Fatalf("groq defaults = %+v, %v", cfg, err)
	}
	cfg, _ = providers.Config{Name: providers.Groq, RPM: -1, TPM: 100}.WithDefaults()
	if cfg.RPM != 0 || cfg.TPM != 100 {
		t.Fatalf("overrides = %+v", cfg)
	}
	if _, err := (providers.Config{Name: "gemini"}).WithDefaults(); examina.KindOf(err) != examina.KindInvalid {
		t.Fatalf("unknown provider = %v", err)
	}
	for _, n := range providers.Names() {
		if d, ok := providers.DefaultsFor(n); !ok || d.Model == "" {
			t.Errorf("%s has no default model", n)
		}
	}
	gc := providers.GateConfig(cfg, 10)
	if gc.RPM != 0 || gc.TPM != 100 || gc.MaxConcurrency != 10 {
		t.Fatalf("GateConfig = %+v", gc)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		cfg   providers.Config
		name  string
		model string
		fails bool
	}{
		{providers.Config{Name: providers.Offline}, "offline", "", false},
		{providers.Config{Name: providers.Simulated}, "simulated", "", false},
		{providers.Config{Name: providers.Groq}, "", "", true},
		{providers.Config{Name: providers.Groq, APIKey: "k"}, "groq", "openai/gpt-oss-120b", false},
		{providers.Config{Name: providers.OpenAI, BaseURL: "http://localhost:8080/v1", Model: "local"}, "openai", "local", false},
		{providers.Config{Name: providers.Anthropic}, "", "", true},
		{providers.Config{Name: providers.Anthropic, APIKey: "k"}, "anthropic", "claude-haiku-4-5", false},
		{providers.Config{Name: providers.Ollama, OllamaHost: "ftp://x"}, "", "", true},
		{providers.Config{Name: providers.Ollama}, "ollama", "qwen3:8b", false},
		{providers.Config{Name: providers.Bedrock, Region: "eu-west-1"}, "bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", false},
		{providers.Config{Name: "nope"}, "", "", true},
		{providers.Config{Name: providers.Offline, BaseURL: "http://localhost:8080/v1"}, "", "", true},
		{providers.Config{Name: providers.Simulated, BaseURL: "http://localhost:8080/v1"}, "", "", true},
		{providers.Config{Name: providers.Ollama, BaseURL: "http://localhost:11434/v1"}, "", "", true},
		{providers.Config{Name: providers.Ollama, BaseURL: "ftp://x"}, "", "", true},
		{providers.Config{Name: providers.Bedrock, Region: "eu-west-1", BaseURL: "bedrock.local"}, "", "", true},
		{providers.Config{Name: providers.Bedrock, Region: "eu-west-1", BaseURL: "https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com"}, "bedrock", "", false},
	}
	for _, tt := range tests {
		p, err := providers.New(ctx, tt.cfg)
		if tt.fails {
			if examina.KindOf(err) != examina.KindInvalid {
				t.Errorf("New(%+v) = %v, want an invalid error", tt.cfg, err)
			}
			continue
		}
		if err != nil || p.Name() != tt.name || (tt.model != "" && p.Model() != tt.model) {
			t.Errorf("New(%+v) = %v, %v", tt.cfg, p, err)
		}
	}
}

// TestOpenAICompatibleEndToEnd is `--provider openai --base-url URL` against any
// OpenAI-compatible server, with the gate built from the configuration.
func TestOpenAICompatibleEndToEnd(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	cfg := providers.ForProvider(providers.OpenAI, env())
	cfg.BaseURL, cfg.Model, cfg.RPM = srv.BaseURL(), "llama.cpp-model", 60
	p, err := providers.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = cfg.WithDefaults()
	var reg ratelimit.Registry
	a := &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Language: "en", CallTimeout: cfg.Timeout,
		Gate: reg.Gate(p.Name(), p.Model(), providers.GateConfig(cfg, 4))}
	out, err := a.Analyze(context.Background(), examina.Course{Code: "X", Name: "X"}, examina.Exercise{ID: "1", Text: "Compute 2+2."}, "")
	if err != nil || out.Status != examina.StatusOK || out.Provider != "openai" {
		t.Fatalf("Analyze = %+v, %v", out.Meta, err)
	}
	r := srv.Requests()[0]
	if r.Model != "llama.cpp-model" || r.Header.Get("Authorization") != "" || r.Payload["max_tokens"] == nil {
		t.Fatalf("request %s", r.Body)
	}
}

// TestBaseURLReachesOllamaAndBedrock: --base-url is honoured by ollama (over
// OLLAMA_HOST) and bedrock (the Converse endpoint), not silently dropped.
func TestBaseURLReachesOllamaAndBedrock(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/show" { // ollama asks about the model once
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/chat" {
			io.WriteString(w, `{"model":"qwen3:8b","message":{"role":"assistant","content":"{}"},"done":true,"done_reason":"stop"}`)
			return
		}
		io.WriteString(w, `{"output":{"message":{"role":"assistant","content":[{"text":"{}"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-example-0123456789")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	for _, cfg := range []providers.Config{
		{Name: providers.Ollama, OllamaHost: "http://127.0.0.1:1", BaseURL: srv.URL},
		{Name: providers.Bedrock, Region: "eu-west-1", BaseURL: srv.URL},
	} {
		p, err := providers.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Complete(ctx, examina.Request{Prompt: examina.Prompt{User: "x"}, MaxTokens: 10}); err != nil {
			t.Fatalf("%s: %v", cfg.Name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 2 || paths[0] != "/api/chat" || !strings.HasSuffix(paths[1], "/converse") {
		t.Fatalf("the server saw %v, want the ollama chat then the bedrock converse call", paths)
	}
}
