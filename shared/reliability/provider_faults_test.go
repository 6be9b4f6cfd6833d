package reliability

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

// expected is what the retry policy must make of an exercise's planned calls.
type expected struct {
	status   examina.Status
	attempts int
	statuses []int // the HTTP status recorded for each attempt (0: no response)
	kinds    []string
}

// expect replays the simulated provider's call plan for exerciseID from call number
// first on, with the retry rules the product promises (DESIGN §5): transient failures
// (500, 503, timeout) spend the MaxRetries budget, rate limits (429, 529, 503) spend
// MaxRateLimitRetries, invalid output is repaired once (its own budget, MaxRepairs)
// and a second invalid answer gives up, truncated output is retried with a doubled
// budget up to 8192 tokens (its own budget), 401 gives up at once. It is written
// independently of pipeline.Analyzer, so a change in either shows up as a mismatch.
func expect(p *simulated.Provider, exerciseID string, first int64, pol retry.Policy) expected {
	var e expected
	retries, rateLimited, repaired, enlarged := 0, 0, false, 0
	spend := func(rateLimit bool) bool {
		if rateLimit && pol.MaxRateLimitRetries > 0 {
			rateLimited++
			return rateLimited <= pol.MaxRateLimitRetries
		}
		retries++
		return retries <= pol.MaxRetries
	}
	for call := first; ; call++ {
		kind := p.Planned(exerciseID, call).Failure
		e.attempts++
		e.kinds = append(e.kinds, kind)
		var more bool
		switch kind {
		case "":
			e.statuses = append(e.statuses, 200)
			e.status = examina.StatusOK
			return e
		case simulated.FailGarbage:
			e.statuses = append(e.statuses, 200)
			more = !repaired
			repaired = true
		case simulated.FailTruncated:
			e.statuses = append(e.statuses, 200)
			enlarged++
			more = enlarged <= 3 // 1024 → 2048 → 4096 → 8192

		case simulated.FailTimeout:
			e.statuses = append(e.statuses, 0)
			more = spend(false)
		case simulated.Fail500:
			e.statuses = append(e.statuses, 500)
			more = spend(false)
		case simulated.Fail429, simulated.Fail503, simulated.Fail529:
			code, _ := strconv.Atoi(kind)
			e.statuses = append(e.statuses, code)
			more = spend(true)
		case simulated.Fail401:
			e.statuses = append(e.statuses, 401)
		}
		if !more {
			e.status = examina.StatusDegraded
			return e
		}
	}
}

// timeoutSleep is the simulated provider's Sleep: instant, except that a "timeout"
// call (which asks for simulated.TimeoutAfter) blocks until its context ends, which
// the Analyzer's short CallTimeout makes happen in milliseconds.
func timeoutSleep(ctx context.Context, d time.Duration) error {
	if d < simulated.TimeoutAfter {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// onlyPlannedTimeouts passes the call context to the simulated provider only for calls
// planned to time out; the others get it without its deadline, so a scheduling stall
// (the race detector on a busy machine) cannot turn a planned success into an
// unplanned timeout. One exercise is never called concurrently, so CallsFor + 1 is
// the number of the call about to be made.
type onlyPlannedTimeouts struct{ *simulated.Provider }

func (p onlyPlannedTimeouts) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	next := p.CallsFor(req.Exercise.ID) + 1
	if p.Planned(req.Exercise.ID, next).Failure != simulated.FailTimeout {
		ctx = context.WithoutCancel(ctx)
	}
	return p.Provider.Complete(ctx, req)
}

// faultCase is one local fault scenario.
type faultCase struct {
	name      string
	exercises int
	rate      float64
	kinds     []string
	policy    retry.Policy
	// wantDegraded: the scenario is sized so that retries run out for some exercises.
	wantDegraded bool
}

func weighted(kinds ...any) []string {
	var out []string
	for i := 0; i < len(kinds); i += 2 {
		for range kinds[i+1].(int) {
			out = append(out, kinds[i].(string))
		}
	}
	return out
}

// TestProviderFaultsNothingLost runs whole courses through pipeline.Runner and the bolt
// store against the simulated provider failing at up to 20% of calls, then resumes
// with RetryDegraded. Every exercise must be accounted for exactly once (ids, positions
// and texts checked against the input), degraded exactly where the call plan says the
// retries ran out, every 429 retried after at least its retry-after, and the second
// run must call the provider for the degraded exercises only.
func TestProviderFaultsNothingLost(t *testing.T) {
	def := retry.DefaultPolicy()
	def.Jitter = func() float64 { return 0.5 }
	tight := def
	tight.MaxRetries, tight.MaxRateLimitRetries = 1, 1
	mix := []string{simulated.Fail429, simulated.Fail500, simulated.Fail529, simulated.FailTimeout, simulated.FailGarbage, simulated.FailTruncated}
	cases := []faultCase{
		// The figures: 5% 429 with retry-after, 2% 500, 1% garbage.
		{name: "5pc-429_2pc-500_1pc-garbage", exercises: 5000, rate: 0.08,
			kinds: weighted(simulated.Fail429, 5, simulated.Fail500, 2, simulated.FailGarbage, 1), policy: def},
		// The same faults with one retry of each budget, so retries run out.
		{name: "same-faults_tight-policy", exercises: 5000, rate: 0.08,
			kinds: weighted(simulated.Fail429, 5, simulated.Fail500, 2, simulated.FailGarbage, 1), policy: tight, wantDegraded: true},
		// 20% of calls fail, evenly over six kinds, timeouts included.
		{name: "20pc-mix", exercises: 5000, rate: 0.20, kinds: mix, policy: def, wantDegraded: true},
	}
	if testing.Short() {
		for i := range cases {
			cases[i].exercises = 500
			cases[i].wantDegraded = false
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runFaultCase(t, tc) })
	}
}

func runFaultCase(t *testing.T, tc faultCase) {
	ctx := context.Background()
	cf := generateCourse(t, tc.exercises)
	const retryAfter = 1500 * time.Millisecond
	prov := simulated.New(simulated.Config{
		Dist: simulated.DistFixed, FailureRate: tc.rate, Failures: tc.kinds,
		RetryAfter: retryAfter, Seed: 6, Sleep: timeoutSleep,
	})
	clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := openStore(t, t.TempDir())
	newRunner := func(retryDegraded bool, progress *tally) *pipeline.Runner {
		return &pipeline.Runner{
			Store: st,
			Analyzer: &pipeline.Analyzer{
				Provider: onlyPlannedTimeouts{prov}, Policy: tc.policy, Clock: clock, Language: "en",
				CallTimeout: 20 * time.Millisecond,
			},
			BatchSize: 16, RetryDegraded: retryDegraded, Progress: progress, Clock: clock,
		}
	}

	// Run 1.
	p1 := &tally{}
	start := time.Now()
	res, err := newRunner(false, p1).Run(ctx, cf)
	if err != nil {
		t.Fatalf("run 1: %v", err)
	}
	elapsed1 := time.Since(start)
	ok1, degraded1 := checkAccounted(t, cf, res.Exercises)
	stored, err := st.Results(ctx, res.JobID)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, cf, stored)
	checkMergedCover(t, cf, res)
	checkReportedOnce(t, cf, p1, cf.Exercises)
	if res.Stats.Analyzed != ok1 || res.Stats.Degraded != degraded1 || res.Stats.Exercises != len(cf.Exercises) {
		t.Errorf("stats %+v disagree with the results (ok %d, degraded %d)", res.Stats, ok1, degraded1)
	}
	if got := int64(res.Stats.ProviderCalls); got != prov.Calls() {
		t.Errorf("stats count %d provider calls, the provider saw %d", got, prov.Calls())
	}
	job, err := st.GetJob(ctx, res.JobID)
	if err != nil || job.Status != examina.JobCompleted || job.Done != job.Total || job.Total != len(cf.Exercises) || job.Degraded != degraded1 {
		t.Errorf("job after run 1 = %+v, %v", job, err)
	}

	// Degraded exactly where the plan says the retries ran out, with the planned attempts.
	faults := map[string]int{}
	var degradedIDs []string
	attempts1 := map[string]int{}
	for _, r := range res.Exercises {
		want := expect(prov, r.ID, 1, tc.policy)
		checkAgainstPlan(t, r, want, retryAfter)
		if got := prov.CallsFor(r.ID); got != int64(r.Analysis.Attempts) {
			t.Errorf("%s: provider called %d times, analysis records %d attempts", r.ID, got, r.Analysis.Attempts)
		}
		attempts1[r.ID] = r.Analysis.Attempts
		for _, k := range want.kinds {
			if k != "" {
				faults[k]++
			}
		}
		if r.Analysis.Status == examina.StatusDegraded {
			degradedIDs = append(degradedIDs, r.ID)
		}
	}
	if tc.wantDegraded && degraded1 == 0 {
		t.Errorf("no exercise degraded: the scenario no longer exhausts retries")
	}

	// Run 2: RetryDegraded calls the provider for the degraded exercises only.
	calls1 := prov.Calls()
	p2 := &tally{}
	res2, err := newRunner(true, p2).Run(ctx, cf)
	if err != nil {
		t.Fatalf("run 2: %v", err)
	}
	ok2, degraded2 := checkAccounted(t, cf, res2.Exercises)
	checkMergedCover(t, cf, res2)
	var retried []examina.Exercise
	for _, ex := range cf.Exercises {
		if slices.Contains(degradedIDs, ex.ID) {
			retried = append(retried, ex)
		}
	}
	checkReportedOnce(t, cf, p2, retried)
	if p2.resumed != len(cf.Exercises)-degraded1 || res2.Stats.Resumed != p2.resumed {
		t.Errorf("run 2 resumed %d (stats %d), want %d", p2.resumed, res2.Stats.Resumed, len(cf.Exercises)-degraded1)
	}
	var wantCalls2 int64
	recovered := 0
	for i, r := range res2.Exercises {
		before := attempts1[r.ID]
		if !slices.Contains(degradedIDs, r.ID) {
			if prov.CallsFor(r.ID) != int64(before) {
				t.Errorf("%s was not degraded but was called again (%d calls, %d before)", r.ID, prov.CallsFor(r.ID), before)
			}
			if r.Analysis.Status != res.Exercises[i].Analysis.Status || r.Analysis.Attempts != before {
				t.Errorf("%s changed in run 2 without being retried", r.ID)
			}
			continue
		}
		want := expect(prov, r.ID, int64(before)+1, tc.policy)
		wantCalls2 += int64(want.attempts)
		checkAgainstPlan(t, r, want, retryAfter)
		if r.Analysis.Status == examina.StatusOK {
			recovered++
		}
	}
	if got := prov.Calls() - calls1; got != wantCalls2 {
		t.Errorf("run 2 made %d provider calls, want %d (the degraded exercises' plans)", got, wantCalls2)
	}
	if degraded2 != degraded1-recovered {
		t.Errorf("after run 2: %d degraded, want %d - %d recovered", degraded2, degraded1, recovered)
	}

	// Run 3: nothing to do.
	calls2 := prov.Calls()
	p3 := &tally{}
	if _, err := newRunner(false, p3).Run(ctx, cf); err != nil {
		t.Fatalf("run 3: %v", err)
	}
	if prov.Calls() != calls2 || p3.todo != 0 || len(p3.done) != 0 {
		t.Errorf("run 3 redid work: %d calls, todo %d", prov.Calls()-calls2, p3.todo)
	}

	kinds := slices.Sorted(maps.Keys(faults))
	var fs []string
	total := 0
	for _, k := range kinds {
		fs = append(fs, fmt.Sprintf("%s=%d", k, faults[k]))
		total += faults[k]
	}
	t.Logf("FIGURES %s: exercises=%d calls=%d faults=%d (%s) ok=%d degraded=%d lost=0 double=0 | retry-degraded run: retried=%d calls=%d recovered=%d still-degraded=%d ok=%d | run 1 took %v",
		tc.name, len(cf.Exercises), calls1, total, strings.Join(fs, " "), ok1, degraded1,
		len(degradedIDs), wantCalls2, recovered, degraded2, ok2, elapsed1.Round(time.Millisecond))
}

// checkAgainstPlan compares one stored result with the replayed plan: status, attempts
// and the HTTP status of every attempt; every retried 429 waited at least retryAfter.
func checkAgainstPlan(t *testing.T, r examina.ExerciseResult, want expected, retryAfter time.Duration) {
	t.Helper()
	a := r.Analysis
	if a.Status != want.status || a.Attempts != want.attempts {
		t.Errorf("%s: %s after %d attempts, the plan %v says %s after %d", r.ID, a.Status, a.Attempts, want.kinds, want.status, want.attempts)
		return
	}
	if len(a.AttemptLog) != want.attempts {
		t.Errorf("%s: %d attempts logged, want %d", r.ID, len(a.AttemptLog), want.attempts)
		return
	}
	for i, rec := range a.AttemptLog {
		if rec.HTTPStatus != want.statuses[i] {
			t.Errorf("%s attempt %d: HTTP %d, the plan says %q (%d)", r.ID, i+1, rec.HTTPStatus, want.kinds[i], want.statuses[i])
		}
		if want.kinds[i] == simulated.Fail429 && i+1 < len(a.AttemptLog) && rec.WaitMS < retryAfter.Milliseconds() {
			t.Errorf("%s attempt %d: retried a 429 after %dms, before its retry-after of %v", r.ID, i+1, rec.WaitMS, retryAfter)
		}
	}
	if a.Status == examina.StatusDegraded {
		if a.Error == "" || a.Confidence != 0 {
			t.Errorf("%s: degraded without a reason or with confidence %v", r.ID, a.Confidence)
		}
	}
}

// checkReportedOnce asserts the progress saw each of want exactly once and nothing else.
func checkReportedOnce(t *testing.T, cf examina.CourseFile, p *tally, want []examina.Exercise) {
	t.Helper()
	if p.started != 1 || p.finishd != 1 {
		t.Errorf("progress started %d and finished %d times", p.started, p.finishd)
	}
	if p.total != len(cf.Exercises) || p.todo != len(want) {
		t.Errorf("progress: total %d todo %d, want %d and %d", p.total, p.todo, len(cf.Exercises), len(want))
	}
	for _, ex := range want {
		if n := p.done[ex.ID]; n != 1 {
			t.Errorf("%s reported done %d times", ex.ID, n)
		}
	}
	if len(p.done) != len(want) {
		t.Errorf("%d exercises reported done, want %d", len(p.done), len(want))
	}
}
