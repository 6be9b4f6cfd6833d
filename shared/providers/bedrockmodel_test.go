package providers_test

import (
	"testing"

	"github.com/examina-dev/examina-serverless/shared/providers"
)

func TestBedrockDefaultModel(t *testing.T) {
	tests := map[string]string{
		"us-east-1": "us.", "us-west-2": "us.", "ca-central-1": "us.", "eu-west-1": "eu.", "eu-central-2": "eu.",
		"ap-northeast-1": "jp.", "ap-southeast-2": "au.", "ap-south-1": "global.", "sa-east-1": "global.", "": "global.",
		"us-gov-west-1": "global.",
	}
	for region, prefix := range tests {
		got := providers.BedrockDefaultModel(region)
		if got != prefix+"anthropic.claude-haiku-4-5-20251001-v1:0" {
			t.Errorf("BedrockDefaultModel(%q) = %q, want the %s profile", region, got, prefix)
		}
		if !providers.BedrockStructured(got) {
			t.Errorf("default %q: structured output off", got)
		}
	}
	cfg, err := providers.Config{Name: providers.Bedrock, Region: "us-east-1"}.WithDefaults()
	if err != nil || cfg.Model != "us.anthropic.claude-haiku-4-5-20251001-v1:0" {
		t.Errorf("WithDefaults in us-east-1: model %q, %v; want the us. profile", cfg.Model, err)
	}
}

func TestBedrockStructured(t *testing.T) {
	tests := []struct {
		model string
		want  bool
	}{
		{"eu.anthropic.claude-haiku-4-5-20251001-v1:0", true},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", true},
		{"global.anthropic.claude-opus-4-5-20251101-v1:0", true},
		{"anthropic.claude-3-haiku-20240307-v1:0", false},
		{"us.anthropic.claude-3-5-sonnet-20241022-v2:0", false},
		{"anthropic.claude-instant-v1", false},
		{"meta.llama3-70b-instruct-v1:0", false},
		{"amazon.nova-lite-v1:0", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := providers.BedrockStructured(tt.model); got != tt.want {
			t.Errorf("BedrockStructured(%q) = %v, want %v", tt.model, got, tt.want)
		}
	}
	for model, want := range map[string]string{"eu.anthropic.x": "anthropic.x", "global.a.b": "a.b", "anthropic.x": "anthropic.x", "apac.m": "m"} {
		if got, _ := providers.BedrockFoundationModel(model); got != want {
			t.Errorf("BedrockFoundationModel(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestBaseURLFromEnvironment(t *testing.T) {
	env := map[string]string{"EXAMINA_BASE_URL": "http://ollama.internal:11434"}
	if cfg := providers.ForProvider(providers.Ollama, func(k string) string { return env[k] }); cfg.OllamaHost != "http://ollama.internal:11434" {
		t.Errorf("ollama host = %q", cfg.OllamaHost)
	}
	// EXAMINA_BASE_URL (the deployment's BaseUrl) wins over the provider's own
	// variable, as it does for OPENAI_BASE_URL (TestFromEnv).
	env["OLLAMA_HOST"] = "http://other:11434"
	if cfg := providers.ForProvider(providers.Ollama, func(k string) string { return env[k] }); cfg.OllamaHost != "http://ollama.internal:11434" {
		t.Errorf("EXAMINA_BASE_URL does not win over OLLAMA_HOST: %q", cfg.OllamaHost)
	}
	delete(env, "EXAMINA_BASE_URL")
	if cfg := providers.ForProvider(providers.Ollama, func(k string) string { return env[k] }); cfg.OllamaHost != "http://other:11434" {
		t.Errorf("without EXAMINA_BASE_URL, OLLAMA_HOST = %q", cfg.OllamaHost)
	}
}
