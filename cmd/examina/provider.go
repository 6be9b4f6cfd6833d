package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// providerFlags selects and configures the provider.
type providerFlags struct {
	name, model, baseURL string
	timeout              time.Duration
	rpm, tpm             int

	// simulated provider
	latency, jitter time.Duration
	dist            string
	median, p99     time.Duration
	failRate        float64
	failKinds       string
	seed            int64
}

func (p *providerFlags) register(fs *flag.FlagSet, env func(string, string) string) {
	fs.StringVar(&p.name, "provider", env("EXAMINA_PROVIDER", ""), "offline, simulated, groq, openai, anthropic, ollama or bedrock (env EXAMINA_PROVIDER; default: the first configured, else offline)")
	fs.StringVar(&p.model, "model", env("EXAMINA_MODEL", ""), "model name (env EXAMINA_MODEL; default: the provider's)")
	fs.StringVar(&p.baseURL, "base-url", "", "base URL of an OpenAI-compatible server (env OPENAI_BASE_URL)")
	fs.DurationVar(&p.timeout, "timeout", envDuration(env, "EXAMINA_TIMEOUT", 60*time.Second), "timeout of one provider call (env EXAMINA_TIMEOUT)")
	fs.IntVar(&p.rpm, "rpm", envInt(env, "EXAMINA_RPM", 0), "requests per minute allowed by the provider (env EXAMINA_RPM; 0: the provider's default)")
	fs.IntVar(&p.tpm, "tpm", envInt(env, "EXAMINA_TPM", 0), "tokens per minute allowed by the provider (env EXAMINA_TPM; 0: the provider's default)")
	fs.DurationVar(&p.latency, "latency", 500*time.Millisecond, "simulated: base latency of a call")
	fs.DurationVar(&p.jitter, "jitter", 200*time.Millisecond, "simulated: uniform extra latency, 0 to this")
	fs.StringVar(&p.dist, "latency-dist", "uniform", "simulated: uniform, fixed or lognormal (heavy tail, see --median and --p99)")
	fs.DurationVar(&p.median, "median", 600*time.Millisecond, "simulated lognormal: median latency")
	fs.DurationVar(&p.p99, "p99", 5*time.Second, "simulated lognormal: 99th percentile latency")
	fs.Float64Var(&p.failRate, "fail-rate", 0, "simulated: fraction of calls that fail (0..1)")
	fs.StringVar(&p.failKinds, "fail-kinds", "429,500", "simulated: failure kinds to draw from: 429,500,503,529,timeout,garbage,truncated,401")
	fs.Int64Var(&p.seed, "seed", 1, "simulated: random seed (runs are deterministic for a seed)")
}

// builtProvider is a provider with the gate that paces it.
type builtProvider struct {
	Provider examina.Provider
	Gate     pipeline.Gate
}

// build constructs the selected provider. note, when non-empty, is one line telling the
// user which provider was picked and how to change it.
func (p *providerFlags) build(ctx context.Context, getenv func(string) string) (builtProvider, string, error) {
	name := strings.ToLower(strings.TrimSpace(p.name))
	note := ""
	if name == "" {
		name = "offline"
		note = "provider: offline (heuristic, no network); set GROQ_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --provider, to use an LLM"
	}
	switch name {
	case "offline":
		return builtProvider{Provider: offline.New()}, note, nil
	case "simulated":
		cfg, err := p.simulatedConfig()
		if err != nil {
			return builtProvider{}, "", err
		}
		return builtProvider{Provider: simulated.New(cfg)}, note, nil
	}
	return builtProvider{}, "", usagef("unknown --provider %q: use offline, simulated, groq, openai, anthropic, ollama or bedrock", p.name)
}

// simulatedConfig validates the simulated provider's flags.
func (p *providerFlags) simulatedConfig() (simulated.Config, error) {
	dist, err := simulated.ParseDist(p.dist)
	if err != nil {
		return simulated.Config{}, usagef("--latency-dist: %v", err)
	}
	kinds, err := simulated.ParseFailures(p.failKinds)
	if err != nil {
		return simulated.Config{}, usagef("--fail-kinds: %v", err)
	}
	cfg := simulated.Config{
		Latency: p.latency, Jitter: p.jitter, Dist: dist, Median: p.median, P99: p.p99,
		FailureRate: p.failRate, Failures: kinds, RetryAfter: time.Second, Seed: p.seed, Model: p.model,
	}
	if err := cfg.Validate(); err != nil {
		return simulated.Config{}, usagef("simulated provider: %v", err)
	}
	return cfg, nil
}
