package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/ratelimit"
)

// HeavyTailConfig configures the heavy-tail scenario. Zero fields take the issue's
// values.
type HeavyTailConfig struct {
	// Course is the course to analyse; zero: Course(Exercises, 2).
	Course examina.CourseFile
	// Exercises is the size of the generated course (default 200).
	Exercises int
	// Median and P99 shape the log-normal latency (defaults 600ms and 5s).
	Median, P99 time.Duration
	// Batch is the most calls in flight (default 10).
	Batch int
	// Seed draws the latencies (default 1).
	Seed int64
	// Dir is where the temporary stores go ("": the system's temp directory).
	Dir string
	// Command is the command line that reproduces the run, for the report.
	Command string
}

func (c HeavyTailConfig) withDefaults() HeavyTailConfig {
	if c.Exercises <= 0 {
		c.Exercises = 200
	}
	if len(c.Course.Exercises) == 0 {
		c.Course = Course(c.Exercises, 2)
	}
	if c.Median <= 0 {
		c.Median = 600 * time.Millisecond
	}
	if c.P99 <= 0 {
		c.P99 = 5 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario heavy-tail"
	}
	return c
}

// HeavyTail runs the heavy-tail scenario: log-normal latencies (a few calls 10x the
// median) with waves, the sliding window, and the sliding window behind the adaptive
// (AIMD) concurrency gate of package ratelimit capped at Batch, each against its own
// fsync'ing bolt store. With no rate limiting the adaptive gate should cost nothing:
// its row shows the price of the gate itself.
func HeavyTail(ctx context.Context, cfg HeavyTailConfig) (*Scenario, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	dir, err := os.MkdirTemp(cfg.Dir, "examina-bench-heavy-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	sim := simulated.Config{Dist: simulated.DistLognormal, Median: cfg.Median, P99: cfg.P99, Seed: cfg.Seed}
	b := PlannedBounds(cfg.Course, sim, cfg.Batch)
	ideal := IdealSliding(cfg.Course, sim, cfg.Batch)
	n := len(cfg.Course.Exercises)
	s := &Scenario{
		Name:    "heavy-tail",
		Title:   fmt.Sprintf("%d exercises, log-normal latency (median %v, p99 %v), batch %d: waves vs sliding window vs adaptive", n, cfg.Median, cfg.P99, cfg.Batch),
		Command: cfg.Command,
		Params: map[string]any{
			"exercises": n, "median_ms": ms(cfg.Median), "p99_ms": ms(cfg.P99), "batch": cfg.Batch,
			"seed": cfg.Seed, "store": "bolt (fsync on commit)",
		},
		Columns: scheduleColumns,
	}
	waves, err := schedule(ctx, dir, WavesName, cfg.Course, sim, cfg.Batch, nil)
	if err != nil {
		return nil, err
	}
	sliding, err := schedule(ctx, dir, Sliding, cfg.Course, sim, cfg.Batch, nil)
	if err != nil {
		return nil, err
	}
	gate := ratelimit.NewGate(ratelimit.Config{MaxConcurrency: cfg.Batch})
	adaptive, err := schedule(ctx, dir, Adaptive, cfg.Course, sim, cfg.Batch, gate)
	if err != nil {
		return nil, err
	}
	s.Rows = []Row{
		waves.row(WavesName, n, b.Window, b.Waves, b.Work, waves.elapsed),
		sliding.row(Sliding, n, b.Window, ideal, b.Work, waves.elapsed),
		adaptive.row(Adaptive, n, b.Window, ideal, b.Work, waves.elapsed),
	}
	gs := gate.Stats()
	s.Rows[2].Note = fmt.Sprintf("gate: limit %d (lowest %d), %d decreases", gs.Limit, gs.LowestLimit, gs.Decreases)
	s.boundFigures(b, ideal)
	s.figure("ideal_waves_over_sliding", b.Waves.Seconds()/ideal.Seconds())
	s.target("sliding window speedup over waves", ">=", waves.elapsed.Seconds()/sliding.elapsed.Seconds(), 1.3, "x")
	s.target("adaptive speedup over waves", ">=", waves.elapsed.Seconds()/adaptive.elapsed.Seconds(), 1.3, "x")
	s.target("degraded exercises", "<=", float64(waves.result.Stats.Degraded+sliding.result.Stats.Degraded+adaptive.result.Stats.Degraded), 0, "")
	s.Notes = append(s.Notes, "the 'vs seq' column is against the planned sequential time (the sum of all latencies); the sequential schedule is not run here")
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}

// boundFigures records the planned bounds of a schedule comparison: the total work, the
// longest call, the lower bounds of the window and of waves, and the ideal sliding
// window's time.
func (s *Scenario) boundFigures(b Bounds, ideal time.Duration) {
	s.figure("work_s", b.Work.Seconds())
	s.figure("longest_call_s", b.Longest.Seconds())
	s.figure("limit_window_s", b.Window.Seconds())
	s.figure("limit_waves_s", b.Waves.Seconds())
	s.figure("ideal_sliding_s", ideal.Seconds())
}
