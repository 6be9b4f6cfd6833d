package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
)

// SeedConfig configures the seed scenario. Zero fields take the seed's values.
type SeedConfig struct {
	// Course is the course to analyse; zero: Course(Exercises, 1).
	Course examina.CourseFile
	// Exercises is the size of the generated course (default 27).
	Exercises int
	// Latency and Jitter: each call takes Latency + U[0, Jitter] (defaults 500ms and
	// 200ms).
	Latency, Jitter time.Duration
	// Batch is the most calls in flight (default 10).
	Batch int
	// Seed draws the latencies (default 1).
	Seed int64
	// Dir is where the temporary stores go ("": the system's temp directory).
	Dir string
	// Command is the command line that reproduces the run, for the report.
	Command string
}

// QuickSeed is the seed scenario with latencies divided by 10, for smoke runs.
func QuickSeed() SeedConfig {
	return SeedConfig{Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond}
}

func (c SeedConfig) withDefaults() SeedConfig {
	if c.Exercises <= 0 {
		c.Exercises = 27
	}
	if len(c.Course.Exercises) == 0 {
		c.Course = Course(c.Exercises, 1)
	}
	c.Exercises = len(c.Course.Exercises)
	if c.Latency == 0 && c.Jitter == 0 {
		c.Latency, c.Jitter = 500*time.Millisecond, 200*time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario seed"
	}
	return c
}

// Seed runs the seed scenario: the course analysed three times with the same simulated
// latencies (Latency + U[0, Jitter], no failures) — sequentially, in waves of Batch,
// and with the Runner's sliding window of Batch — each against its own fsync'ing bolt
// store. Targets are the issue's, with the 1.8 s bound scaled by Latency/500ms.
func Seed(ctx context.Context, cfg SeedConfig) (*Scenario, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	dir, err := os.MkdirTemp(cfg.Dir, "examina-bench-seed-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	sim := simulated.Config{Latency: cfg.Latency, Jitter: cfg.Jitter, Dist: simulated.DistUniform, Seed: cfg.Seed}
	seqB := PlannedBounds(cfg.Course, sim, 1)
	b := PlannedBounds(cfg.Course, sim, cfg.Batch)
	ideal := IdealSliding(cfg.Course, sim, cfg.Batch)
	n := len(cfg.Course.Exercises)

	s := &Scenario{
		Name:    "seed",
		Title:   fmt.Sprintf("%d exercises, latency %v + U[0,%v], batch %d: sequential vs waves vs sliding window", n, cfg.Latency, cfg.Jitter, cfg.Batch),
		Command: cfg.Command,
		Params: map[string]any{
			"exercises": n, "latency_ms": ms(cfg.Latency), "jitter_ms": ms(cfg.Jitter), "batch": cfg.Batch,
			"seed": cfg.Seed, "store": "bolt (fsync on commit)",
		},
		Columns: scheduleColumns,
	}
	var runs [3]run
	for i, name := range []string{Sequential, WavesName, Sliding} {
		batch := cfg.Batch
		if name == Sequential {
			batch = 1
		}
		if runs[i], err = schedule(ctx, dir, name, cfg.Course, sim, batch, nil); err != nil {
			return nil, err
		}
	}
	seq, waves, sliding := runs[0], runs[1], runs[2]
	s.Rows = []Row{
		seq.row(Sequential, n, seqB.Window, seqB.Work, seq.elapsed, waves.elapsed),
		waves.row(WavesName, n, b.Window, b.Waves, seq.elapsed, waves.elapsed),
		sliding.row(Sliding, n, b.Window, ideal, seq.elapsed, waves.elapsed),
	}
	s.boundFigures(b, ideal)
	// The same ideals over many latency draws: how reachable the targets are at all.
	med, medRatio, p90Ratio := idealSpread(cfg.Course, sim, cfg.Batch, 1000)
	s.figure("ideal_sliding_median_1000_draws_s", med.Seconds())
	s.figure("ideal_waves_over_sliding_median_1000_draws", medRatio)
	s.figure("ideal_waves_over_sliding_p90_1000_draws", p90Ratio)
	s.figure("original_sequential_s", 15.91)
	s.figure("original_parallel_s", 2.05)
	s.figure("original_speedup", 7.76)

	scale := cfg.Latency.Seconds() / 0.5
	s.target("sliding window time", "<=", sliding.elapsed.Seconds(), 1.8*scale, "s")
	s.target("sliding window speedup over sequential", ">=", seq.elapsed.Seconds()/sliding.elapsed.Seconds(), 8.5, "x")
	s.target("sliding window speedup over waves", ">=", waves.elapsed.Seconds()/sliding.elapsed.Seconds(), 1.15, "x")
	s.target("degraded exercises", "<=", float64(seq.result.Stats.Degraded+waves.result.Stats.Degraded+sliding.result.Stats.Degraded), 0, "")
	if scale != 1 {
		s.Notes = append(s.Notes, fmt.Sprintf("latencies scaled by %.2f: the time target is scaled alike; the original tool's figures are for the unscaled run", scale))
	}
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}
