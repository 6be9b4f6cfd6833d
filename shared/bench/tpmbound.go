package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// TPMBoundConfig configures the tpm-bound scenario.
type TPMBoundConfig struct {
	// Exercises (default 60), Workers (default 10).
	Exercises, Workers int
	// Window stands for a minute (default 2s); Latency is the server's answer time
	// (default 200ms).
	Window, Latency time.Duration
	// RPM and TPM are the server's limits per Window (defaults 30 and 8000, Groq's
	// free tier); InputTokens and OutputTokens the usage of every answer (defaults 500
	// and 250: far less than the 1024 output tokens each request reserves).
	RPM, TPM                  int
	InputTokens, OutputTokens int
	Command                   string
}

func (c TPMBoundConfig) withDefaults() TPMBoundConfig {
	if c.Exercises <= 0 {
		c.Exercises = 60
	}
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.Window <= 0 {
		c.Window = 2 * time.Second
	}
	if c.Latency <= 0 {
		c.Latency = 200 * time.Millisecond
	}
	if c.RPM <= 0 {
		c.RPM = 30
	}
	if c.TPM <= 0 {
		c.TPM = 8000
	}
	if c.InputTokens <= 0 {
		c.InputTokens = 500
	}
	if c.OutputTokens <= 0 {
		c.OutputTokens = 250
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario tpm-bound"
	}
	return c
}

// acquireOnly hides a gate's Reserve: the Analyzer then acquires and releases, and the
// tokens reserved by estimate are never given back (the behaviour before settling).
type acquireOnly struct{ g *ratelimit.Gate }

func (a acquireOnly) Acquire(ctx context.Context, n int) error { return a.g.Acquire(ctx, n) }
func (a acquireOnly) Release(resp examina.Response, err error) { a.g.Release(resp, err) }

// limitedRun is the outcome of one run against a rate-limited fake server.
type limitedRun struct {
	elapsed            time.Duration
	requests, limited  int
	degraded, ok       int
	retries            int
	credited           int
	providerLatencySum time.Duration
}

// TokenMinimum is the least time n calls of perCall tokens take against a server
// admitting rpm requests and tpm tokens per window, windows starting with the first
// request: as many calls per window as both limits allow, plus one answer.
func TokenMinimum(n, rpm, tpm, perCall int, window, latency time.Duration) time.Duration {
	per := max(min(rpm, tpm/max(perCall, 1)), 1)
	return time.Duration((n-1)/per)*window + latency
}

// TPMBound runs the tpm-bound scenario: a Groq-like fake server (30 requests and 8,000
// tokens per scaled minute, usage-counted, 429 + retry-after), 60 exercises through
// the Analyzer and the CLI's gate (requests spread over ten-second intervals), the
// answers using far fewer output tokens than each request reserves; once with the
// reservations never given back (before) and once settled with actual usage.
func TPMBound(ctx context.Context, cfg TPMBoundConfig) (*Scenario, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	perCall := cfg.InputTokens + cfg.OutputTokens
	minimum := TokenMinimum(cfg.Exercises, cfg.RPM, cfg.TPM, perCall, cfg.Window, cfg.Latency)
	rateMin := time.Duration(float64(cfg.Exercises*perCall)/float64(cfg.TPM)*float64(cfg.Window)) + cfg.Latency
	s := &Scenario{
		Name: "tpm-bound",
		Title: fmt.Sprintf("%d exercises, %d workers, fake Groq-like server: %d requests and %d tokens per scaled minute (%v), answers of %d tokens",
			cfg.Exercises, cfg.Workers, cfg.RPM, cfg.TPM, cfg.Window, perCall),
		Command: cfg.Command,
		Params: map[string]any{"exercises": cfg.Exercises, "workers": cfg.Workers, "window_ms": ms(cfg.Window), "latency_ms": ms(cfg.Latency),
			"rpm": cfg.RPM, "tpm": cfg.TPM, "answer_tokens": perCall, "output_budget": pipeline.DefaultMaxTokens},
		Columns: []Column{
			{"time_s", "time (s)", "%.2f"},
			{"minimum_s", "minimum (s)", "%.2f"},
			{"ratio", "x minimum", "%.2f"},
			{"requests", "requests", "%.0f"},
			{"limited", "429s", "%.0f"},
			{"credited", "tokens given back", "%.0f"},
			{"degraded", "degraded", "%.0f"},
		},
	}
	for _, settled := range []bool{false, true} {
		gate := ratelimit.NewGate(ratelimit.Config{RPM: cfg.RPM, TPM: cfg.TPM, Per: cfg.Window, Slack: cfg.Window / 40,
			MaxConcurrency: cfg.Workers, Intervals: providers.GateIntervals})
		var g pipeline.Gate = acquireOnly{gate}
		name := "before: reserved by estimate, never given back"
		if settled {
			g, name = gate, "settled with actual usage"
		}
		r, err := runLimited(ctx, fakeopenai.Config{Limit: cfg.RPM, TokenLimit: cfg.TPM, Window: cfg.Window, Latency: cfg.Latency,
			Answers: []fakeopenai.Answer{{InputTokens: cfg.InputTokens, OutputTokens: cfg.OutputTokens}}}, g, cfg.Exercises, cfg.Workers)
		if err != nil {
			return nil, fmt.Errorf("bench: tpm-bound %s: %w", name, err)
		}
		r.credited = gate.Stats().Credited
		ratio := r.elapsed.Seconds() / minimum.Seconds()
		s.Rows = append(s.Rows, Row{Name: name, Values: map[string]float64{
			"time_s": r.elapsed.Seconds(), "minimum_s": minimum.Seconds(), "ratio": ratio, "requests": float64(r.requests),
			"limited": float64(r.limited), "credited": float64(r.credited), "degraded": float64(r.degraded)}})
		if settled {
			s.target("settled: makespan over the token limit's minimum", "<=", ratio, 1.15, "x")
			s.target("settled: degraded", "<=", float64(r.degraded), 0, "")
			s.figure("settled_time_s", r.elapsed.Seconds())
		} else {
			s.figure("before_time_s", r.elapsed.Seconds())
		}
	}
	s.figure("minimum_s", minimum.Seconds())
	s.figure("rate_minimum_s", rateMin.Seconds())
	s.Notes = append(s.Notes,
		fmt.Sprintf("minimum = as many calls per window as both limits allow (%d), windows starting with the first request, plus one answer; the token rate alone gives %.2f s", min(cfg.RPM, cfg.TPM/perCall), rateMin.Seconds()),
		"each request reserves its prompt (about 4 bytes a token) plus its 1024-token output budget; the server counts the answers' usage")
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}

// runLimited analyses n exercises with workers through gate against a fake server.
func runLimited(ctx context.Context, sc fakeopenai.Config, gate pipeline.Gate, n, workers int) (limitedRun, error) {
	const key = "fake-key-0123456789"
	sc.APIKey = key
	srv := fakeopenai.New(sc)
	defer srv.Close()
	client, err := openai.New(openai.Config{Name: "openai", BaseURL: srv.BaseURL(), APIKey: key, Model: "fake-model", Strict: true,
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}})
	if err != nil {
		return limitedRun{}, err
	}
	a := &pipeline.Analyzer{Provider: client, Policy: retry.DefaultPolicy(), Gate: gate, Language: "en", CallTimeout: 30 * time.Second}
	course := examina.Course{Code: "BENCH", Name: "Token-bound scenario", Language: "en"}
	jobs := make(chan examina.Exercise)
	var mu sync.Mutex
	var r limitedRun
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ex := range jobs {
				out, _ := a.Analyze(ctx, course, ex, "")
				mu.Lock()
				if out.Meta.Status == examina.StatusOK {
					r.ok++
				} else {
					r.degraded++
				}
				r.retries += max(out.Meta.Attempts-1, 0)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		ex := examina.Exercise{ID: fmt.Sprintf("ex-%03d", i+1), Number: fmt.Sprint(i + 1), Position: i,
			Text: fmt.Sprintf("Exercise %d: minimise f(a,b,c,d) = sum m(%d, 3, 7, 11) with a Karnaugh map.", i+1, i%16)}
		select {
		case jobs <- ex:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	r.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	st := srv.Stats()
	r.requests, r.limited = st.Requests, st.Limited
	r.providerLatencySum = time.Duration(st.Admitted) * sc.Latency
	return r, nil
}
