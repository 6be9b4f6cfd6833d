package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// Schedules compared by the latency scenarios.
const (
	Sequential = "sequential"       // the Runner with a window of 1
	WavesName  = "waves"            // the original tool's batches (Waves)
	Sliding    = "sliding"          // the Runner's sliding window
	Adaptive   = "sliding+adaptive" // the sliding window behind an adaptive concurrency gate
)

// Columns of the latency scenarios' tables.
var scheduleColumns = []Column{
	{"time_s", "time (s)", "%.3f"},
	{"ex_per_s", "ex/s", "%.2f"},
	{"speedup", "vs seq", "%.2fx"},
	{"vs_waves", "vs waves", "%.2fx"},
	{"limit_s", "limit (s)", "%.3f"},
	{"efficiency", "efficiency", "%.0f%%"},
	{"ideal_s", "ideal (s)", "%.3f"},
	{"overhead_ms", "over ideal (ms)", "%.0f"},
	{"max_in_flight", "max in flight", "%.0f"},
	{"calls", "calls", "%.0f"},
	{"overrun_ms", "call overrun (ms)", "%.1f"},
	{"degraded", "degraded", "%.0f"},
}

// run is one schedule's outcome.
type run struct {
	elapsed     time.Duration
	result      examina.Result
	maxInFlight int64
	calls       int64
	// overrun is the mean of (measured - planned) latency of the first calls: how much
	// later than planned the simulated calls returned (timer and scheduling delays on a
	// loaded machine), as opposed to time spent outside the calls.
	overrun time.Duration
}

// schedule runs cf with one schedule against a fresh simulated provider (same config,
// hence the same latencies) and a fresh fsync'ing bolt store in its own directory under
// dir, so no run is served from another's cache. gate, when non-nil, paces the calls.
func schedule(ctx context.Context, dir, name string, cf examina.CourseFile, sim simulated.Config, batch int, gate pipeline.Gate) (run, error) {
	sdir, err := os.MkdirTemp(dir, name+"-")
	if err != nil {
		return run{}, fmt.Errorf("bench: store directory: %w", err)
	}
	defer os.RemoveAll(sdir)
	st, err := bolt.Open(ctx, filepath.Join(sdir, "store"), bolt.Options{})
	if err != nil {
		return run{}, err
	}
	defer st.Close()
	p := simulated.New(sim)
	an := &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Gate: gate, Language: cf.Course.Language}
	start := time.Now()
	var res examina.Result
	if name == WavesName {
		res, err = Waves(ctx, st, an, cf, batch, 0.5)
	} else {
		r := &pipeline.Runner{Store: st, Analyzer: an, BatchSize: batch}
		res, err = r.Run(ctx, cf)
	}
	elapsed := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("bench: %s schedule: %w", name, err)
	}
	out := run{elapsed: elapsed, result: res, maxInFlight: p.MaxInFlight(), calls: p.Calls()}
	var over time.Duration
	var n int
	for _, r := range res.Exercises {
		if len(r.Analysis.AttemptLog) == 0 {
			continue
		}
		got := time.Duration(r.Analysis.AttemptLog[0].LatencyMS) * time.Millisecond
		over += got - p.Planned(r.ID, 1).Latency.Truncate(time.Millisecond)
		n++
	}
	if n > 0 {
		out.overrun = over / time.Duration(n)
	}
	return out, nil
}

// Bounds are the fastest a schedule could possibly be, from the planned latency of each
// exercise's first call.
type Bounds struct {
	// Work is the sum of all latencies: the sequential time.
	Work time.Duration
	// Longest is the longest single call.
	Longest time.Duration
	// Window is max(Work/batch, Longest): no schedule of batch calls at a time can do
	// better.
	Window time.Duration
	// Waves is the sum over batches of their longest call: the best the waves
	// scheduler can do.
	Waves time.Duration
}

// PlannedBounds computes the bounds of cf with batch calls at a time for the simulated
// configuration sim, assuming every first call succeeds.
func PlannedBounds(cf examina.CourseFile, sim simulated.Config, batch int) Bounds {
	p := simulated.New(sim)
	var b Bounds
	var waveMax time.Duration
	for i, ex := range cf.Exercises {
		d := p.Planned(ex.ID, 1).Latency
		b.Work += d
		b.Longest = max(b.Longest, d)
		waveMax = max(waveMax, d)
		if (i+1)%batch == 0 || i == len(cf.Exercises)-1 {
			b.Waves += waveMax
			waveMax = 0
		}
	}
	b.Window = max(b.Work/time.Duration(batch), b.Longest)
	return b
}

// row turns a run into a table row. limit is the concurrency's lower bound and ideal
// the schedule's own zero-overhead time (0: unknown); seq and waves are the reference
// times (0: unknown).
func (r run) row(name string, n int, limit, ideal, seq, waves time.Duration) Row {
	v := map[string]float64{
		"time_s":        r.elapsed.Seconds(),
		"ex_per_s":      float64(n) / r.elapsed.Seconds(),
		"limit_s":       limit.Seconds(),
		"efficiency":    100 * limit.Seconds() / r.elapsed.Seconds(),
		"max_in_flight": float64(r.maxInFlight),
		"calls":         float64(r.calls),
		"degraded":      float64(r.result.Stats.Degraded),
		"overrun_ms":    ms(r.overrun),
	}
	if ideal > 0 {
		v["ideal_s"] = ideal.Seconds()
		v["overhead_ms"] = ms(r.elapsed - ideal)
	}
	if seq > 0 {
		v["speedup"] = seq.Seconds() / r.elapsed.Seconds()
	}
	if waves > 0 {
		v["vs_waves"] = waves.Seconds() / r.elapsed.Seconds()
	}
	return Row{Name: name, Values: v}
}
