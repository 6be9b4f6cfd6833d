// Package providers builds an examina.Provider from configuration: a provider name,
// its model, endpoint, key and rate limits, read from the environment and overridden
// by flags. It knows each provider's documented defaults (model, base URL, free-tier
// limits) and picks a provider when none is named.
package providers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/anthropic"
	"github.com/examina-dev/examina-serverless/shared/llm/bedrock"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/llm/ollama"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
)

// Provider names.
const (
	Groq      = "groq"
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Ollama    = "ollama"
	Bedrock   = "bedrock"
	Offline   = "offline"
	Simulated = "simulated"
)

// Defaults are a provider's documented defaults.
type Defaults struct {
	Model   string
	BaseURL string
	// KeyEnv is the environment variable holding the API key ("" if none).
	KeyEnv string
	// RPM and TPM are the client-side limits applied when none is configured: the
	// provider's free-tier limits where known, 0 (unlimited) otherwise.
	RPM, TPM int
}

// Names lists the known providers, sorted.
func Names() []string {
	return []string{Anthropic, Bedrock, Groq, Offline, Ollama, OpenAI, Simulated}
}

// DefaultsFor returns the defaults of provider name; ok is false for an unknown name.
//
// Groq: llama-3.3-70b-versatile, the original tool's default, is deprecated in 2026;
// openai/gpt-oss-120b is a production model on Groq that supports strict JSON schema
// output (constrained decoding, so no json_validate_failed), with free-tier limits of
// 30 requests/min and 8K tokens/min (1K requests/day, 200K tokens/day).
// Anthropic: claude-haiku-4-5 is the cheapest current model with structured outputs
// (output_config.format). Other limits depend on the account's tier: none by default.
func DefaultsFor(name string) (d Defaults, ok bool) {
	switch name {
	case Groq:
		return Defaults{Model: "openai/gpt-oss-120b", BaseURL: "https://api.groq.com/openai/v1", KeyEnv: "GROQ_API_KEY", RPM: 30, TPM: 8000}, true
	case OpenAI:
		return Defaults{Model: "gpt-4o-mini", BaseURL: "https://api.openai.com/v1", KeyEnv: "OPENAI_API_KEY"}, true
	case Anthropic:
		return Defaults{Model: "claude-haiku-4-5", BaseURL: anthropic.DefaultBaseURL, KeyEnv: "ANTHROPIC_API_KEY"}, true
	case Ollama:
		return Defaults{Model: "qwen3:8b", BaseURL: ollama.DefaultHost}, true
	case Bedrock:
		return Defaults{Model: "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}, true
	case Offline:
		return Defaults{Model: offline.ModelName}, true
	case Simulated:
		return Defaults{Model: simulated.DefaultModel}, true
	}
	return Defaults{}, false
}

// Config configures New. Empty fields take the provider's defaults.
type Config struct {
	// Name is the provider: groq, openai, anthropic, ollama, bedrock, offline or
	// simulated.
	Name string
	// Model is the model name (default: Defaults.Model).
	Model string
	// BaseURL is the API root for groq, openai and anthropic (default: Defaults.BaseURL);
	// with openai any compatible server ("http://localhost:8080/v1"). For ollama it is
	// Ollama's address and wins over OllamaHost; for bedrock the Converse endpoint (a VPC
	// endpoint or a proxy). The offline and simulated providers reject it.
	BaseURL string
	// APIKey is the provider's key (groq, anthropic: required; openai: optional for
	// local servers).
	APIKey string
	// AnthropicVersion is the anthropic-version header (default 2023-06-01).
	AnthropicVersion string
	// OllamaHost is Ollama's address as in OLLAMA_HOST (default 127.0.0.1:11434).
	OllamaHost string
	// Region is Bedrock's AWS region (default: the AWS SDK's).
	Region string
	// RPM and TPM are the client-side limits per minute (0: Defaults.RPM/TPM; -1:
	// unlimited).
	RPM, TPM int
	// Timeout bounds one provider call (default 90s); the CLI passes it to
	// pipeline.Analyzer.CallTimeout. A context deadline shortens it.
	Timeout time.Duration
	// Format overrides the OpenAI-compatible response format (json_schema,
	// json_object, none).
	Format string
	// Simulated configures the simulated provider.
	Simulated simulated.Config
	// HTTP sends the HTTP providers' requests (nil: a client without a timeout).
	HTTP *http.Client
}

// Environment variables read by FromEnv, besides each provider's KeyEnv.
const (
	EnvProvider = "EXAMINA_PROVIDER"
	EnvModel    = "EXAMINA_MODEL"
	EnvRPM      = "EXAMINA_RPM"
	EnvTPM      = "EXAMINA_TPM"
	EnvTimeout  = "EXAMINA_TIMEOUT"
	// EnvBaseURL is the template's BaseUrl parameter: the API base URL of groq, openai
	// and anthropic, or Ollama's address; it wins over the provider's own variable
	// (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, OLLAMA_HOST).
	EnvBaseURL = "EXAMINA_BASE_URL"
)

// Detect picks the provider when none is named: the first configured of Groq
// (GROQ_API_KEY), Anthropic (ANTHROPIC_API_KEY) and OpenAI (OPENAI_API_KEY or
// OPENAI_BASE_URL), else offline. why says what decided, for a one-line notice.
func Detect(getenv func(string) string) (name, why string) {
	switch {
	case getenv("GROQ_API_KEY") != "":
		return Groq, "GROQ_API_KEY is set"
	case getenv("ANTHROPIC_API_KEY") != "":
		return Anthropic, "ANTHROPIC_API_KEY is set"
	case getenv("OPENAI_API_KEY") != "":
		return OpenAI, "OPENAI_API_KEY is set"
	case getenv("OPENAI_BASE_URL") != "":
		return OpenAI, "OPENAI_BASE_URL is set"
	}
	return Offline, "no GROQ_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY is set"
}

// FromEnv reads the configuration of the provider named by EXAMINA_PROVIDER, or the one
// Detect picks: see ForProvider. Fields left empty take defaults in New.
func FromEnv(getenv func(string) string) Config {
	name := strings.ToLower(strings.TrimSpace(getenv(EnvProvider)))
	if name == "" {
		name, _ = Detect(getenv)
	}
	return ForProvider(name, getenv)
}

// ForProvider reads provider name's configuration from the environment: its key
// (GROQ_API_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY), OPENAI_BASE_URL for openai,
// ANTHROPIC_BASE_URL and ANTHROPIC_VERSION for anthropic, OLLAMA_HOST for ollama,
// AWS_REGION for bedrock, EXAMINA_BASE_URL for any provider with a URL (when its
// own variable is unset), and EXAMINA_MODEL, EXAMINA_RPM, EXAMINA_TPM and
// EXAMINA_TIMEOUT (a Go duration) for any. Unparsable numbers are ignored. A CLI
// builds this, then overrides fields from its flags.
func ForProvider(name string, getenv func(string) string) Config {
	cfg := Config{Name: name, Model: getenv(EnvModel)}
	d, _ := DefaultsFor(name)
	if d.KeyEnv != "" {
		cfg.APIKey = getenv(d.KeyEnv)
	}
	switch name {
	case OpenAI:
		cfg.BaseURL = getenv("OPENAI_BASE_URL")
	case Anthropic:
		cfg.BaseURL = getenv("ANTHROPIC_BASE_URL")
		cfg.AnthropicVersion = getenv("ANTHROPIC_VERSION")
	case Ollama:
		cfg.OllamaHost = getenv("OLLAMA_HOST")
	case Bedrock:
		cfg.Region = getenv("AWS_REGION")
	}
	// EXAMINA_BASE_URL (the template's BaseUrl) wins over the provider's own variable.
	if base := strings.TrimSpace(getenv(EnvBaseURL)); base != "" {
		switch name {
		case Ollama:
			cfg.OllamaHost = base
		case OpenAI, Anthropic, Groq:
			cfg.BaseURL = base
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(EnvRPM))); err == nil {
		cfg.RPM = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(EnvTPM))); err == nil {
		cfg.TPM = n
	}
	if d, err := time.ParseDuration(strings.TrimSpace(getenv(EnvTimeout))); err == nil && d > 0 {
		cfg.Timeout = d
	}
	return cfg
}

// WithDefaults returns cfg with its empty fields set to the provider's defaults. It
// fails with a KindInvalid error for an unknown provider.
func (cfg Config) WithDefaults() (Config, error) {
	d, ok := DefaultsFor(cfg.Name)
	if !ok {
		return cfg, examina.E("providers", examina.KindInvalid, "unknown provider %q (known: %s)", cfg.Name, strings.Join(Names(), ", "))
	}
	if cfg.Model == "" {
		cfg.Model = d.Model
		if cfg.Name == Bedrock {
			cfg.Model = BedrockDefaultModel(cfg.Region)
		}
	}
	if cfg.BaseURL == "" && (cfg.Name == Groq || cfg.Name == OpenAI || cfg.Name == Anthropic) {
		cfg.BaseURL = d.BaseURL
	}
	switch {
	case cfg.RPM == 0:
		cfg.RPM = d.RPM
	case cfg.RPM < 0:
		cfg.RPM = 0
	}
	switch {
	case cfg.TPM == 0:
		cfg.TPM = d.TPM
	case cfg.TPM < 0:
		cfg.TPM = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 90 * time.Second
	}
	return cfg, nil
}

// New builds the provider cfg names, its empty fields set by WithDefaults. It fails with
// a KindInvalid error for an unknown provider or a missing required setting (a Groq or
// Anthropic key, a malformed OLLAMA_HOST, an unloadable AWS configuration).
func New(ctx context.Context, cfg Config) (examina.Provider, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.BaseURL != "" && (cfg.Name == Offline || cfg.Name == Simulated) {
		return nil, examina.E("providers", examina.KindInvalid, "%s: the %s provider calls no server, so a base URL (%s) is not used: drop it or choose a provider that calls one", cfg.Name, cfg.Name, cfg.BaseURL)
	}
	switch cfg.Name {
	case Offline:
		return offline.New(), nil
	case Simulated:
		sc := cfg.Simulated
		if sc.Model == "" && cfg.Model != simulated.DefaultModel {
			sc.Model = cfg.Model
		}
		return simulated.New(sc), nil
	case Groq:
		if cfg.APIKey == "" {
			return nil, examina.E("providers", examina.KindInvalid, "groq needs an API key: set GROQ_API_KEY")
		}
		return openai.New(openai.Config{Name: Groq, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Model: cfg.Model,
			Format: cfg.Format, Strict: groqStrict(cfg.Model), MaxTokensParam: "max_completion_tokens", HTTP: cfg.HTTP})
	case OpenAI:
		param := "max_tokens"
		if strings.Contains(cfg.BaseURL, "api.openai.com") {
			param = "max_completion_tokens"
		}
		return openai.New(openai.Config{Name: OpenAI, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Model: cfg.Model,
			Format: cfg.Format, Strict: true, MaxTokensParam: param, HTTP: cfg.HTTP})
	case Anthropic:
		return anthropic.New(anthropic.Config{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Model: cfg.Model,
			Version: cfg.AnthropicVersion, HTTP: cfg.HTTP})
	case Ollama:
		host := cfg.OllamaHost
		if cfg.BaseURL != "" {
			if p := strings.TrimRight(cfg.BaseURL, "/"); strings.HasSuffix(p, "/v1") {
				return nil, examina.E("providers", examina.KindInvalid,
					"ollama: base URL %q is Ollama's OpenAI endpoint; give its address (http://host:11434) for --provider ollama, or use --provider openai with this URL", cfg.BaseURL)
			}
			host = cfg.BaseURL
		}
		return ollama.New(ollama.Config{Host: host, Model: cfg.Model, HTTP: cfg.HTTP})
	case Bedrock:
		return bedrock.New(ctx, bedrock.Config{Model: cfg.Model, Region: cfg.Region, Endpoint: cfg.BaseURL, Structured: BedrockStructured(cfg.Model)})
	}
	return nil, fmt.Errorf("providers: %q has no constructor", cfg.Name)
}

// groqStrict reports whether strict JSON schema mode is available for a Groq model: the
// gpt-oss family; other models get best-effort schema mode.
func groqStrict(model string) bool {
	return strings.HasPrefix(model, "openai/gpt-oss")
}

// GateIntervals is the number of intervals a minute's request limit is spread over
// (ten seconds each): providers quantise per-minute limits over shorter intervals.
const GateIntervals = 6

// GateConfig is the ratelimit configuration for cfg (after WithDefaults) with at most
// batch calls in flight.
func GateConfig(cfg Config, batch int) ratelimit.Config {
	return ratelimit.Config{RPM: max(cfg.RPM, 0), TPM: max(cfg.TPM, 0), MaxConcurrency: batch, Intervals: GateIntervals}
}
