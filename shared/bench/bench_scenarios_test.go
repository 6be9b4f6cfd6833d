package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// checkSchedules checks what every latency scenario must show whatever the machine's
// speed: each schedule made one call per exercise, none degraded, the concurrency
// bound was reached and never exceeded, and no run beat its lower bound.
func checkSchedules(t *testing.T, s *Scenario, n int, inFlight map[string]float64) {
	t.Helper()
	if len(s.Rows) != len(inFlight) {
		t.Fatalf("%d rows, want %d: %+v", len(s.Rows), len(inFlight), s.Rows)
	}
	for name, want := range inFlight {
		r := s.Row(name)
		if r == nil {
			t.Fatalf("no row %q", name)
		}
		v := r.Values
		if v["calls"] != float64(n) || v["degraded"] != 0 || v["max_in_flight"] != want {
			t.Errorf("%s: calls %v degraded %v max in flight %v; want %d, 0, %v", name, v["calls"], v["degraded"], v["max_in_flight"], n, want)
		}
		// A schedule can't beat the bound of its concurrency (timers never fire early).
		if v["time_s"] < v["limit_s"] || v["efficiency"] > 100 {
			t.Errorf("%s: time %vs below the limit %vs", name, v["time_s"], v["limit_s"])
		}
		if v["time_s"] < v["ideal_s"] {
			t.Errorf("%s: time %vs below its ideal %vs", name, v["time_s"], v["ideal_s"])
		}
	}
	for _, tg := range s.Targets {
		if tg.Name == "degraded exercises" && !tg.Met {
			t.Errorf("degraded target not met: %+v", tg)
		}
	}
}

func TestSeedScenario(t *testing.T) {
	s, err := Seed(context.Background(), SeedConfig{Latency: 10 * time.Millisecond, Jitter: 4 * time.Millisecond, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkSchedules(t, s, 27, map[string]float64{Sequential: 1, WavesName: 10, Sliding: 10})
	if s.Params["exercises"] != 27 || s.Params["batch"] != 10 {
		t.Errorf("params %v", s.Params)
	}
	if got := len(s.Targets); got != 4 {
		t.Errorf("%d targets, want 4", got)
	}
	// The waves bound is the sum of each wave's slowest call: never below the window's.
	if s.Figures["limit_waves_s"] < s.Figures["limit_window_s"] || s.Figures["ideal_sliding_s"] < s.Figures["limit_window_s"] {
		t.Errorf("inconsistent bounds: %v", s.Figures)
	}
	if !strings.Contains(s.Command, "--scenario seed") {
		t.Errorf("command %q", s.Command)
	}
}

func TestHeavyTailScenario(t *testing.T) {
	s, err := HeavyTail(context.Background(), HeavyTailConfig{Exercises: 40, Median: 3 * time.Millisecond, P99: 25 * time.Millisecond, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkSchedules(t, s, 40, map[string]float64{WavesName: 10, Sliding: 10, Adaptive: 10})
}

func TestOverheadScenario(t *testing.T) {
	s, err := Overhead(context.Background(), OverheadConfig{Exercises: 300, MergeSizes: []int{200, 2000}, MergeBudget: time.Millisecond, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 3 {
		t.Fatalf("rows %+v", s.Rows)
	}
	if s.Figures["end_to_end_calls"] != 300 || s.Figures["merge_input_growth"] != 10 {
		t.Errorf("figures %v", s.Figures)
	}
	// The instant provider's answers make every fifth exercise merge into the previous.
	if s.Figures["end_to_end_merged_groups"] != 240 {
		t.Errorf("merged groups %v, want 240", s.Figures["end_to_end_merged_groups"])
	}
	e := s.Rows[0].Values
	if e["peak_heap_mib"] <= 0 || e["sys_mib"] < e["peak_heap_mib"] || e["allocs_per_ex"] <= 0 {
		t.Errorf("memory figures %v", e)
	}
}

// recorder is a provider that logs the start and end of every call, in order, and
// holds each call for a time chosen by position.
type recorder struct {
	mu     sync.Mutex
	events []string
	hold   func(pos int) time.Duration
	inner  *InstantProvider
}

func (r *recorder) Name() string  { return "recorder" }
func (r *recorder) Model() string { return "recorder-1" }
func (r *recorder) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	r.log("start", req.Exercise.Position)
	time.Sleep(r.hold(req.Exercise.Position))
	r.log("end", req.Exercise.Position)
	return r.inner.Complete(ctx, req)
}
func (r *recorder) log(what string, pos int) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("%s %d", what, pos))
	r.mu.Unlock()
}

func TestWavesWaitForTheSlowest(t *testing.T) {
	for _, tc := range []struct{ n, size int }{{27, 10}, {5, 10}, {12, 4}, {7, 1}} {
		t.Run(fmt.Sprintf("%d_by_%d", tc.n, tc.size), func(t *testing.T) {
			st, err := bolt.Open(context.Background(), t.TempDir(), bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// The first call of each wave is the slow one.
			rec := &recorder{inner: NewInstantProvider(3), hold: func(pos int) time.Duration {
				if pos%tc.size == 0 {
					return 5 * time.Millisecond
				}
				return 0
			}}
			an := &pipeline.Analyzer{Provider: rec, Policy: retry.DefaultPolicy(), Language: "en"}
			cf := Course(tc.n, 9)
			res, err := Waves(context.Background(), st, an, cf, tc.size, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stats.Exercises != tc.n || res.Stats.ProviderCalls != tc.n || len(res.Exercises) != tc.n {
				t.Fatalf("stats %+v", res.Stats)
			}
			// Every call of wave k ends before any call of wave k+1 starts.
			lastEnd := map[int]int{}
			firstStart := map[int]int{}
			for i, e := range rec.events {
				var what string
				var pos int
				fmt.Sscanf(e, "%s %d", &what, &pos)
				w := pos / tc.size
				if what == "end" {
					lastEnd[w] = i
				} else if _, ok := firstStart[w]; !ok {
					firstStart[w] = i
				}
			}
			for w := 0; w*tc.size < tc.n-tc.size; w++ {
				if lastEnd[w] > firstStart[w+1] {
					t.Fatalf("wave %d started before wave %d ended: %v", w+1, w, rec.events)
				}
			}
			job, err := st.GetJob(context.Background(), res.JobID)
			if err != nil || job.Status != examina.JobCompleted || job.Done != tc.n {
				t.Fatalf("job %+v, %v", job, err)
			}
			if _, err := st.GetOutput(context.Background(), res.JobID); err != nil {
				t.Fatalf("no stored result document: %v", err)
			}
		})
	}
}

func TestWavesRejectsBadSize(t *testing.T) {
	_, err := Waves(context.Background(), nil, &pipeline.Analyzer{}, Course(3, 1), 0, 0.5)
	if examina.KindOf(err) != examina.KindInvalid {
		t.Fatalf("err = %v, want KindInvalid", err)
	}
}

func TestBoundsAndIdeal(t *testing.T) {
	const L = 100 * time.Millisecond
	fixed := simulated.Config{Dist: simulated.DistFixed, Latency: L}
	tests := []struct {
		n, batch                   int
		work, window, waves, ideal time.Duration
	}{
		{27, 10, 27 * L, 27 * L / 10, 3 * L, 3 * L},
		{27, 1, 27 * L, 27 * L, 27 * L, 27 * L},
		{5, 10, 5 * L, L, L, L},
		{20, 10, 20 * L, 2 * L, 2 * L, 2 * L},
	}
	for _, tt := range tests {
		cf := Course(tt.n, 1)
		b := PlannedBounds(cf, fixed, tt.batch)
		if b.Work != tt.work || b.Window != tt.window || b.Waves != tt.waves || b.Longest != L {
			t.Errorf("%d by %d: bounds %+v", tt.n, tt.batch, b)
		}
		if got := IdealSliding(cf, fixed, tt.batch); got != tt.ideal {
			t.Errorf("%d by %d: ideal %v, want %v", tt.n, tt.batch, got, tt.ideal)
		}
	}
	// With varying latencies the sliding window's ideal lies between the window bound
	// and the waves bound.
	uni := simulated.Config{Latency: 500 * time.Millisecond, Jitter: 200 * time.Millisecond, Seed: 7}
	cf := Course(27, 1)
	b := PlannedBounds(cf, uni, 10)
	if id := IdealSliding(cf, uni, 10); id < b.Window || id > b.Waves {
		t.Errorf("ideal %v outside [%v, %v]", id, b.Window, b.Waves)
	}
}

func TestCourse(t *testing.T) {
	a, b := Course(60, 4), Course(60, 4)
	if !slices.Equal(a.Exercises, b.Exercises) {
		t.Fatal("Course is not deterministic")
	}
	ids, texts := map[string]bool{}, map[string]bool{}
	for i, ex := range a.Exercises {
		if ex.Position != i || ex.Text == "" || strings.Contains(ex.Text, "%!") {
			t.Fatalf("exercise %d: %+v", i, ex)
		}
		ids[ex.ID], texts[ex.Text] = true, true
	}
	if len(ids) != 60 || len(texts) != 60 {
		t.Fatalf("%d distinct ids, %d distinct texts; want 60", len(ids), len(texts))
	}
}

func TestInstantProviderAnswersParse(t *testing.T) {
	p := NewInstantProvider(4)
	for pos := range 25 {
		resp, err := p.Complete(context.Background(), examina.Request{Exercise: examina.Exercise{Position: pos}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := analysis.Parse(resp.Text)
		if err != nil {
			t.Fatalf("position %d: %v\n%s", pos, err, resp.Text)
		}
		if a.ShouldMergeWithPrevious != (pos%5 == 4) || a.Topic == "" {
			t.Fatalf("position %d: %+v", pos, a)
		}
	}
	if p.Calls() != 25 {
		t.Fatalf("calls %d", p.Calls())
	}
}

func TestAnalysesMix(t *testing.T) {
	in := Analyses(10_000, 1)
	positions := map[int]bool{}
	var invalid, merged int
	for _, r := range in {
		positions[r.Position] = true
		if !r.Analysis.IsValidExercise {
			invalid++
		}
		if r.Analysis.ShouldMergeWithPrevious {
			merged++
		}
	}
	if len(positions) != 10_000 || invalid < 800 || invalid > 1200 || merged < 1700 || merged > 2300 {
		t.Fatalf("%d positions, %d invalid, %d merged", len(positions), invalid, merged)
	}
}

func TestTimeMerge(t *testing.T) {
	m := TimeMerge(500, time.Millisecond)
	if m.N != 500 || m.Runs < 3 || m.NsPerOp <= 0 || m.MinNsPerOp > m.NsPerOp || m.AllocsPerOp <= 0 {
		t.Fatalf("%+v", m)
	}
}

func TestReportPrintAndJSON(t *testing.T) {
	s := &Scenario{Name: "x", Title: "t", Command: "examina bench --scenario x",
		Columns: []Column{{"a", "A", "%.1f"}, {"b", "B", "%.0f"}},
		Rows:    []Row{{Name: "r1", Values: map[string]float64{"a": 1.25}, Note: "n/a"}},
	}
	s.target("up", ">=", 2, 1, "x")
	s.target("down", "<=", 2, 1, "s")
	s.skip("later", "<=", 2.5, "", "needs the cloud code")
	s.figure("f", 0.5)
	if !s.Targets[0].Met || s.Targets[1].Met || s.Targets[2].Met {
		t.Fatalf("targets %+v", s.Targets)
	}
	var buf bytes.Buffer
	if err := s.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"reproduce: examina bench --scenario x", "1.2", "[MET ] up = 2x (target >= 1x)", "[MISS] down", "[SKIP] later", "needs the cloud code", "f = 0.5", " -"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	r := &Report{Machine: ThisMachine(time.Unix(0, 0)), Scenarios: []*Scenario{s}}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path, nil); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := r.WriteJSON("-", &buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Scenarios) != 1 || back.Scenarios[0].Targets[2].Skipped == "" || back.Machine.NumCPU == 0 {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestRateLimitedScenario(t *testing.T) {
	s, err := RateLimited(context.Background(), RateLimitedConfig{Window: 500 * time.Millisecond, Latency: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rows) != 3 {
		t.Fatalf("rows %+v", s.Rows)
	}
	for _, r := range s.Rows {
		v := r.Values
		if v["degraded"] != 0 || v["requests"] != 27+v["limited"] || v["time_s"] < v["minimum_s"] {
			t.Errorf("%s: %v", r.Name, v)
		}
	}
}
