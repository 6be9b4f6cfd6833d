package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/examina-dev/examina-serverless/shared/scenario"
)

// RateLimitedConfig configures the rate-limited scenario.
type RateLimitedConfig struct {
	// Window is the server's rate-limit window, standing for a minute (default 1s).
	Window time.Duration
	// Latency is the server's time to answer (default 200ms).
	Latency time.Duration
	// Command is the command line that reproduces the run, for the report.
	Command string
}

// RateLimited runs the rate-limit scenario of package scenario (a fake OpenAI-compatible
// server admitting N requests per time-scaled minute and answering the rest with 429
// and retry-after; 27 exercises through the Analyzer, 10 workers, the ratelimit Gate)
// three ways: the issue's 30 per minute; 10 per minute, where the limit binds; and 10
// per minute without the client-side limit, so only the retry layer copes with 429s.
func RateLimited(ctx context.Context, cfg RateLimitedConfig) (*Scenario, error) {
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.Latency <= 0 {
		cfg.Latency = 200 * time.Millisecond
	}
	if cfg.Command == "" {
		cfg.Command = "examina bench --scenario rate-limited"
	}
	began := time.Now()
	s := &Scenario{
		Name:    "rate-limited",
		Title:   fmt.Sprintf("27 exercises, 10 workers, fake OpenAI-compatible server: N requests per scaled minute (%v), 429 + retry-after", cfg.Window),
		Command: cfg.Command,
		Params:  map[string]any{"exercises": 27, "workers": 10, "window_ms": ms(cfg.Window), "server_latency_ms": ms(cfg.Latency)},
		Columns: []Column{
			{"time_s", "time (s)", "%.3f"},
			{"minimum_s", "minimum (s)", "%.3f"},
			{"over_min_pct", "over minimum", "%+.1f%%"},
			{"requests", "requests", "%.0f"},
			{"limited", "429s", "%.0f"},
			{"retries", "retries", "%.0f"},
			{"gate_wait_s", "gate wait (s)", "%.2f"},
			{"lowest_conc", "lowest concurrency", "%.0f"},
			{"degraded", "degraded", "%.0f"},
		},
	}
	cases := []struct {
		name       string
		limit, rpm int
	}{
		{"30/min, client limit 30", 30, 0},
		{"10/min, client limit 10", 10, 0},
		{"10/min, no client limit", 10, -1},
	}
	var issue scenario.Figures
	for i, c := range cases {
		f, err := scenario.Run(ctx, scenario.Config{Limit: c.limit, RPM: c.rpm, Window: cfg.Window, Latency: cfg.Latency})
		if err != nil {
			return nil, fmt.Errorf("bench: rate-limited %s: %w", c.name, err)
		}
		if i == 0 {
			issue = f
		}
		s.Rows = append(s.Rows, Row{Name: c.name, Values: map[string]float64{
			"time_s": f.Elapsed.Seconds(), "minimum_s": f.Minimum.Seconds(), "over_min_pct": 100 * f.Overhead(),
			"requests": float64(f.Requests), "limited": float64(f.Limited), "retries": float64(f.Retries),
			"gate_wait_s": f.GateWait.Seconds(), "lowest_conc": float64(f.LowestConcurrency), "degraded": float64(f.Degraded),
		}})
		if c.rpm >= 0 {
			s.target(c.name+": degraded", "<=", float64(f.Degraded), 0, "")
			s.target(c.name+": time over the minimum", "<=", 100*f.Overhead(), 10, "%")
		}
	}
	s.figure("issue_case_429s", float64(issue.Limited))
	s.Notes = append(s.Notes, "minimum = max(windows the requests need + one answer, rounds of 10 answers); the third row shows the retry layer alone honouring retry-after")
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}
