package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/merge"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// InstantProvider answers every request at once with one of a fixed set of valid
// analyses (chosen by the exercise's position), so a run measures the pipeline and the
// store, not a model. It is safe for concurrent use.
type InstantProvider struct {
	answers []string
	calls   atomic.Int64
}

// NewInstantProvider returns an InstantProvider whose answers spread over topics topics
// (three core loops each); one answer in five continues the previous exercise.
func NewInstantProvider(topics int) *InstantProvider {
	topics = max(topics, 1)
	p := &InstantProvider{}
	for i := range topics * 5 {
		t := i % topics
		a := map[string]any{
			"is_valid_exercise": true, "is_fragment": i%5 == 4, "should_merge_with_previous": i%5 == 4,
			"topic": fmt.Sprintf("Topic %d", t), "core_loop_name": fmt.Sprintf("Solve problem %d of topic %d", i%3, t),
			"procedure":  []string{"read the statement", "apply the method", "check the result"},
			"difficulty": examina.DifficultyMedium, "variations": []string{"with don't-care terms"}, "confidence": 0.85,
		}
		b, err := json.Marshal(a)
		if err != nil {
			panic(err) // a map of plain values always marshals
		}
		p.answers = append(p.answers, string(b))
	}
	return p
}

// Name returns "instant".
func (*InstantProvider) Name() string { return "instant" }

// Model returns "instant-v1".
func (*InstantProvider) Model() string { return "instant-v1" }

// Calls returns how many calls were made.
func (p *InstantProvider) Calls() int64 { return p.calls.Load() }

// Complete returns the canned analysis for req.Exercise.Position at once.
func (p *InstantProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	if err := ctx.Err(); err != nil {
		return examina.Response{}, err
	}
	p.calls.Add(1)
	text := p.answers[req.Exercise.Position%len(p.answers)]
	return examina.Response{Text: text, Model: p.Model(), HTTPStatus: 200, InputTokens: 400, OutputTokens: len(text) / 4}, nil
}

// MemSampler samples the heap while a run goes on.
type MemSampler struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

// StartMemSampler reads runtime.MemStats every interval until Stop.
func StartMemSampler(interval time.Duration) *MemSampler {
	m := &MemSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				m.sample()
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *MemSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for {
		p := m.peak.Load()
		if ms.HeapAlloc <= p || m.peak.CompareAndSwap(p, ms.HeapAlloc) {
			return
		}
	}
}

// Stop ends the sampling and returns the peak HeapAlloc seen, in bytes.
func (m *MemSampler) Stop() uint64 {
	close(m.stop)
	<-m.done
	return m.peak.Load()
}

// OverheadConfig configures the overhead scenario. Zero fields take the issue's
// values.
type OverheadConfig struct {
	// Exercises run end to end through the Runner (default 10,000).
	Exercises int
	// Batch is the Runner's window (default 10).
	Batch int
	// MergeSizes are the input sizes of the merge measurement (default 10,000 and
	// 100,000).
	MergeSizes []int
	// MergeBudget is roughly how long each merge size is measured (default 3s; at
	// least 3 repetitions are made).
	MergeBudget time.Duration
	// Dir is where the temporary store goes ("": the system's temp directory).
	Dir string
	// Command is the command line that reproduces the run, for the report.
	Command string
}

func (c OverheadConfig) withDefaults() OverheadConfig {
	if c.Exercises <= 0 {
		c.Exercises = 10_000
	}
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if len(c.MergeSizes) == 0 {
		c.MergeSizes = []int{10_000, 100_000}
	}
	if c.MergeBudget <= 0 {
		c.MergeBudget = 3 * time.Second
	}
	if c.Command == "" {
		c.Command = "examina bench --scenario overhead"
	}
	return c
}

// EndToEnd is one run of the whole local pipeline with the instant provider.
type EndToEnd struct {
	Exercises    int
	Elapsed      time.Duration
	PeakHeap     uint64 // bytes, sampled every 10ms
	Sys          uint64 // bytes obtained from the OS at the end
	TotalAlloc   uint64 // bytes allocated during the run
	Mallocs      uint64 // allocations during the run
	NumGC        uint32 // collections during the run
	Calls        int64
	Degraded     int
	MergedGroups int
}

// RunEndToEnd analyses a generated course of n exercises with the Runner (window
// batch), the instant provider and a fresh fsync'ing bolt store in dir.
func RunEndToEnd(ctx context.Context, dir string, n, batch int) (EndToEnd, error) {
	sdir, err := os.MkdirTemp(dir, "overhead-")
	if err != nil {
		return EndToEnd{}, fmt.Errorf("bench: store directory: %w", err)
	}
	defer os.RemoveAll(sdir)
	st, err := bolt.Open(ctx, filepath.Join(sdir, "store"), bolt.Options{})
	if err != nil {
		return EndToEnd{}, err
	}
	defer st.Close()
	cf := Course(n, 3)
	p := NewInstantProvider(40)
	r := &pipeline.Runner{
		Store:     st,
		Analyzer:  &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Language: "en"},
		BatchSize: batch,
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sampler := StartMemSampler(10 * time.Millisecond)
	start := time.Now()
	res, err := r.Run(ctx, cf)
	elapsed := time.Since(start)
	peak := sampler.Stop()
	if err != nil {
		return EndToEnd{}, fmt.Errorf("bench: overhead run: %w", err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return EndToEnd{
		Exercises: n, Elapsed: elapsed, PeakHeap: peak, Sys: after.Sys,
		TotalAlloc: after.TotalAlloc - before.TotalAlloc, Mallocs: after.Mallocs - before.Mallocs,
		NumGC: after.NumGC - before.NumGC, Calls: p.Calls(), Degraded: res.Stats.Degraded,
		MergedGroups: res.Stats.MergedGroups,
	}, nil
}

// MergeTiming is the cost of merge.Build over one input size.
type MergeTiming struct {
	N           int
	Runs        int
	NsPerOp     float64 // median of the runs
	MinNsPerOp  float64
	AllocsPerOp float64
	BytesPerOp  float64
}

// TimeMerge measures merge.Build (the ordered merge and the aggregation) over n
// generated analyses (Analyses(n, 42)), repeating for about budget (at least 3 runs).
func TimeMerge(n int, budget time.Duration) MergeTiming {
	in := Analyses(n, 42)
	merge.Build(in, merge.Options{}) // warm up
	var times []float64
	var mallocs, bytes uint64
	start := time.Now()
	for len(times) < 3 || time.Since(start) < budget {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		t0 := time.Now()
		merge.Build(in, merge.Options{})
		d := time.Since(t0)
		runtime.ReadMemStats(&b)
		times = append(times, float64(d.Nanoseconds()))
		mallocs += b.Mallocs - a.Mallocs
		bytes += b.TotalAlloc - a.TotalAlloc
		if len(times) >= 1000 {
			break
		}
	}
	slices.Sort(times)
	k := float64(len(times))
	return MergeTiming{N: n, Runs: len(times), NsPerOp: times[len(times)/2], MinNsPerOp: times[0],
		AllocsPerOp: float64(mallocs) / k, BytesPerOp: float64(bytes) / k}
}

// Analyses returns n analysed exercises in shuffled order with a realistic mix (the
// same as shared/merge's benchmarks): about 10% invalid, 20% merged with the previous,
// 5% low confidence, n/50 distinct topics (at least 20, at most 200) with three core
// loops each, spelt with near-duplicate variants as models do.
func Analyses(n int, seed uint64) []examina.ExerciseResult {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	topics := min(max(n/50, 20), 200)
	words := strings.Fields(`karnaugh map cache memory pipeline hazard branch predictor finite state
		machine boolean algebra flip flop register file virtual paging tlb interrupt handler bus
		arbitration floating point adder multiplier divider assembly mips risc instruction encoding
		addressing mode stack frame recursion linked list binary tree heap sort merge quick graph`)
	name := func(prefix string) string {
		k := 2 + rng.IntN(2)
		parts := make([]string, k)
		for i := range parts {
			w := words[rng.IntN(len(words))]
			parts[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		return prefix + strings.Join(parts, " ")
	}
	variant := func(s string) string {
		switch rng.IntN(10) {
		case 0:
			return strings.ToLower(s)
		case 1:
			return s + "s"
		case 2:
			return strings.ReplaceAll(s, " ", "-")
		}
		return s
	}
	topicNames := make([]string, topics)
	loops := make([][3]string, topics)
	for i := range topicNames {
		topicNames[i] = name("")
		for j := range loops[i] {
			loops[i][j] = name("Solve ")
		}
	}
	texts := make([]string, 16)
	for i := range texts {
		texts[i] = strings.Repeat(fmt.Sprintf("Exercise body %d. ", i), 10)
	}
	procedure := []string{"read the statement", "apply the method", "check the result"}
	out := make([]examina.ExerciseResult, n)
	for i := range out {
		t := rng.IntN(topics)
		a := examina.Analysis{
			IsValidExercise:         rng.IntN(10) != 0,
			ShouldMergeWithPrevious: rng.IntN(5) == 0,
			Topic:                   variant(topicNames[t]),
			CoreLoopName:            variant(loops[t][rng.IntN(3)]),
			Procedure:               procedure,
			Difficulty:              examina.DifficultyMedium,
			Confidence:              0.6 + 0.4*rng.Float64(),
			Meta:                    examina.Meta{Status: examina.StatusOK},
		}
		a.IsFragment = a.ShouldMergeWithPrevious
		if rng.IntN(20) == 0 {
			a.Confidence = 0.3 * rng.Float64()
		}
		out[i] = examina.ExerciseResult{
			Exercise: examina.Exercise{ID: fmt.Sprintf("ex-%06d", i), Number: fmt.Sprint(i + 1), Text: texts[i%len(texts)], Position: i},
			Analysis: a,
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Overhead runs the overhead scenario: the whole local pipeline over Exercises with the
// instant provider and the fsync'ing bolt store (exercises/s, peak heap, Sys), then
// merge.Build alone over each of MergeSizes (ns/op, allocs/op, and how the time grows
// with the input).
func Overhead(ctx context.Context, cfg OverheadConfig) (*Scenario, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	s := &Scenario{
		Name:    "overhead",
		Title:   fmt.Sprintf("%d exercises through Runner + bolt (fsync) with a zero-latency provider; merge.Build alone", cfg.Exercises),
		Command: cfg.Command,
		Params: map[string]any{
			"exercises": cfg.Exercises, "batch": cfg.Batch, "merge_sizes": cfg.MergeSizes,
			"store": "bolt (fsync on commit)", "provider": "instant (canned valid analyses)",
		},
		Columns: []Column{
			{"time_ms", "time (ms)", "%.1f"},
			{"ops_per_s", "per second", "%.0f"},
			{"peak_heap_mib", "peak heap (MiB)", "%.1f"},
			{"sys_mib", "Sys (MiB)", "%.1f"},
			{"allocs_per_ex", "allocs/exercise", "%.0f"},
			{"bytes_per_ex", "B/exercise", "%.0f"},
			{"gcs", "GCs", "%.0f"},
		},
	}
	e2e, err := RunEndToEnd(ctx, cfg.Dir, cfg.Exercises, cfg.Batch)
	if err != nil {
		return nil, err
	}
	n := float64(e2e.Exercises)
	const mib = 1 << 20
	s.Rows = append(s.Rows, Row{Name: fmt.Sprintf("end to end, %d exercises", e2e.Exercises), Values: map[string]float64{
		"time_ms": ms(e2e.Elapsed), "ops_per_s": n / e2e.Elapsed.Seconds(),
		"peak_heap_mib": float64(e2e.PeakHeap) / mib, "sys_mib": float64(e2e.Sys) / mib,
		"allocs_per_ex": float64(e2e.Mallocs) / n, "bytes_per_ex": float64(e2e.TotalAlloc) / n, "gcs": float64(e2e.NumGC),
	}})
	s.figure("end_to_end_calls", float64(e2e.Calls))
	s.figure("end_to_end_merged_groups", float64(e2e.MergedGroups))
	var timings []MergeTiming
	for _, size := range cfg.MergeSizes {
		t := TimeMerge(size, cfg.MergeBudget)
		timings = append(timings, t)
		s.Rows = append(s.Rows, Row{
			Name: fmt.Sprintf("merge.Build, %d analyses", size),
			Values: map[string]float64{
				"time_ms": t.NsPerOp / 1e6, "ops_per_s": float64(size) / (t.NsPerOp / 1e9),
				"allocs_per_ex": t.AllocsPerOp / float64(size), "bytes_per_ex": t.BytesPerOp / float64(size),
			},
			Note: fmt.Sprintf("median of %d runs (min %.1f ms), %.0f allocs/op, %.1f MiB/op", t.Runs, t.MinNsPerOp/1e6, t.AllocsPerOp, t.BytesPerOp/mib),
		})
		s.figure(fmt.Sprintf("merge_%d_ns_per_op", size), t.NsPerOp)
		s.figure(fmt.Sprintf("merge_%d_allocs_per_op", size), t.AllocsPerOp)
	}
	s.target("end-to-end exercises/s", ">=", n/e2e.Elapsed.Seconds(), 5000, "")
	s.target("degraded exercises", "<=", float64(e2e.Degraded), 0, "")
	for _, t := range timings {
		if t.N == 100_000 {
			s.target("merge of 100,000 analyses", "<=", t.NsPerOp/1e9, 1, "s")
		}
	}
	if len(timings) >= 2 {
		lo, hi := timings[0], timings[len(timings)-1]
		growth := hi.NsPerOp / lo.NsPerOp
		inputs := float64(hi.N) / float64(lo.N)
		s.figure("merge_time_growth", growth)
		s.figure("merge_input_growth", inputs)
		if inputs == 10 {
			s.target("merge time growth for 10x input", "<=", growth, 15, "x")
		}
	}
	s.ElapsedMS = ms(time.Since(began))
	return s, nil
}
