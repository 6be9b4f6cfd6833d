package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
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

	// keyless lets a provider that needs an API key be built without one (for
	// `--dry-run`, which never calls it).
	keyless bool
}

func (p *providerFlags) register(fs *flag.FlagSet, env *envReader) {
	fs.StringVar(&p.name, "provider", env.str("EXAMINA_PROVIDER", ""), "offline, simulated, groq, openai, anthropic, ollama or bedrock (env EXAMINA_PROVIDER; default: the first of groq, anthropic, openai with a key set, else offline)")
	fs.StringVar(&p.model, "model", env.str("EXAMINA_MODEL", ""), "model name (env EXAMINA_MODEL; default: the provider's)")
	fs.StringVar(&p.baseURL, "base-url", "", "API base URL: an OpenAI-compatible server for openai (env OPENAI_BASE_URL), the API root for anthropic (env ANTHROPIC_BASE_URL) and groq, Ollama's address for ollama (env OLLAMA_HOST), the Converse endpoint for bedrock; an error for offline and simulated")
	fs.DurationVar(&p.timeout, "timeout", env.duration("timeout", "EXAMINA_TIMEOUT", 90*time.Second), "timeout of one provider call (env EXAMINA_TIMEOUT)")
	fs.IntVar(&p.rpm, "rpm", env.int("rpm", "EXAMINA_RPM", 0), "requests per minute allowed by the provider (env EXAMINA_RPM; 0: the provider's default, -1: no limit)")
	fs.IntVar(&p.tpm, "tpm", env.int("tpm", "EXAMINA_TPM", 0), "tokens per minute allowed by the provider (env EXAMINA_TPM; 0: the provider's default, -1: no limit)")
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
	Timeout  time.Duration
	// Config is the provider's configuration after defaults (base URL, limits): what
	// the price lookup and `--dry-run` read.
	Config providers.Config
	// Batch is the window: --batch-size, or fewer when the server decodes fewer
	// requests at once (its slots) and would queue the rest.
	Batch int
}

// slotter is implemented by providers whose server says how many requests it decodes
// at once (llama-server's /props total_slots).
type slotter interface {
	Slots(ctx context.Context) (int, bool)
}

// build constructs the selected provider and its gate (rate limits and adaptive
// concurrency, at most batch calls in flight). note, when non-empty, is one line
// telling the user which provider was picked and how to change it.
func (p *providerFlags) build(ctx context.Context, getenv func(string) string, batch int) (builtProvider, string, error) {
	name := strings.ToLower(strings.TrimSpace(p.name))
	note := ""
	if name == "" {
		var why string
		name, why = providers.Detect(getenv)
		if name == providers.Offline && p.baseURL != "" {
			name, why = providers.OpenAI, "--base-url is set"
		}
		note = fmt.Sprintf("provider: %s (%s); choose one with --provider %s", name, why, strings.Join(providers.Names(), "|"))
	}
	if _, ok := providers.DefaultsFor(name); !ok {
		return builtProvider{}, "", usagef("unknown --provider %q: use one of %s", p.name, strings.Join(providers.Names(), ", "))
	}
	cfg := providers.ForProvider(name, getenv)
	if p.model != "" {
		cfg.Model = p.model
	}
	if p.baseURL != "" {
		cfg.BaseURL = p.baseURL
	}
	if p.rpm != 0 {
		cfg.RPM = p.rpm
	}
	if p.tpm != 0 {
		cfg.TPM = p.tpm
	}
	if p.timeout > 0 {
		cfg.Timeout = p.timeout
	}
	if name == providers.Simulated {
		sc, err := p.simulatedConfig()
		if err != nil {
			return builtProvider{}, "", err
		}
		cfg.Simulated = sc
	}
	if p.keyless && cfg.APIKey == "" {
		cfg.APIKey = "dry-run-without-a-key"
	}
	prov, err := providers.New(ctx, cfg)
	if err != nil {
		if examina.KindOf(err) == examina.KindInvalid {
			return builtProvider{}, "", usagef("%v", err)
		}
		return builtProvider{}, "", err
	}
	cfg, _ = cfg.WithDefaults()
	b := builtProvider{Provider: prov, Timeout: cfg.Timeout, Config: cfg, Batch: batch}
	if sl, ok := prov.(slotter); ok {
		// A local server queues requests beyond its slots instead of refusing them, so
		// the adaptive gate never sees a 429 while every call waits longer: the window
		// is bounded by the slots instead.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, ok := sl.Slots(pctx)
		cancel()
		if ok && n < batch {
			b.Batch = n
			note = strings.TrimSpace(note + fmt.Sprintf("\nthe server decodes %d requests at once (its slots) and queues the rest: at most %d calls in flight instead of --batch-size %d", n, n, batch))
		}
	}
	if name != providers.Offline {
		b.Gate = ratelimit.NewGate(providers.GateConfig(cfg, b.Batch))
	}
	return b, note, nil
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
