package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// fakeProvider answers with a valid analysis after an optional hold, counting calls
// and the most calls ever in flight. fail decides, per exercise and call number,
// whether the call fails and how.
type fakeProvider struct {
	hold time.Duration
	// gather, when > 0, makes the first gather calls wait until gather calls are in
	// flight at once (a barrier, so reaching the bound does not depend on timing);
	// gathered must then be a fresh channel.
	gather   int
	gathered chan struct{}
	started  atomic.Int64
	fail     func(pos, call int) error
	mu       sync.Mutex
	calls    map[int]int
	total    atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func (f *fakeProvider) Name() string  { return "fake" }
func (f *fakeProvider) Model() string { return "fake-1" }

func (f *fakeProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	f.total.Add(1)
	if f.gather > 0 {
		if s := f.started.Add(1); s <= int64(f.gather) {
			if s == int64(f.gather) {
				close(f.gathered)
			}
			select {
			case <-f.gathered:
			case <-time.After(10 * time.Second): // the bound is never reached: the test fails
			}
		}
	}
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[int]int{}
	}
	f.calls[req.Exercise.Position]++
	call := f.calls[req.Exercise.Position]
	f.mu.Unlock()
	if f.hold > 0 {
		select {
		case <-time.After(f.hold):
		case <-ctx.Done():
			return examina.Response{}, ctx.Err()
		}
	}
	if f.fail != nil {
		if err := f.fail(req.Exercise.Position, call); err != nil {
			return examina.Response{}, err
		}
	}
	body, _ := json.Marshal(map[string]any{
		"is_valid_exercise": true, "is_fragment": false, "should_merge_with_previous": false,
		"topic": fmt.Sprintf("Topic %d", req.Exercise.Position%3), "core_loop_name": fmt.Sprintf("Loop %d", req.Exercise.Position%3),
		"procedure": []string{"step one", "step two"}, "difficulty": "medium", "variations": []string{}, "confidence": 0.9,
	})
	return examina.Response{Text: string(body), InputTokens: 10, OutputTokens: 5}, nil
}

func course(n int) examina.CourseFile {
	cf := examina.CourseFile{Course: examina.Course{Code: "TST", Name: "Test course", Language: "en"}}
	for i := range n {
		cf.Exercises = append(cf.Exercises, examina.Exercise{ID: fmt.Sprintf("ex-%03d", i), Number: fmt.Sprint(i + 1), Text: fmt.Sprintf("Exercise %d: minimise the function f%d.", i, i), Position: i})
	}
	return cf
}

func openStore(t *testing.T, dir string) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(context.Background(), dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// instantClock never sleeps: waits pass at once and are recorded.
type instantClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *instantClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *instantClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newRunner(st examina.Store, p examina.Provider, batch int) *pipeline.Runner {
	return &pipeline.Runner{
		Store:     st,
		Analyzer:  &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Clock: &instantClock{}, Language: "en"},
		BatchSize: batch,
	}
}

func TestWindowBound(t *testing.T) {
	for _, tc := range []struct{ exercises, batch int }{{27, 10}, {5, 10}, {40, 1}, {64, 7}} {
		t.Run(fmt.Sprintf("%d_by_%d", tc.exercises, tc.batch), func(t *testing.T) {
			want := min(tc.batch, tc.exercises)
			p := &fakeProvider{hold: 5 * time.Millisecond, gather: want, gathered: make(chan struct{})}
			r := newRunner(openStore(t, t.TempDir()), p, tc.batch)
			res, err := r.Run(context.Background(), course(tc.exercises))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.maxIn.Load(); got != int64(want) {
				t.Errorf("max in flight = %d, want exactly %d (the bound, reached)", got, want)
			}
			if res.Stats.ProviderCalls != tc.exercises || int(p.total.Load()) != tc.exercises {
				t.Errorf("provider calls = %d (stats %d), want %d", p.total.Load(), res.Stats.ProviderCalls, tc.exercises)
			}
			if res.Stats.MergedGroups != tc.exercises || len(res.Exercises) != tc.exercises {
				t.Errorf("merged groups %d, exercises %d; want %d", res.Stats.MergedGroups, len(res.Exercises), tc.exercises)
			}
		})
	}
}

func TestResumeAndCache(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	p := &fakeProvider{}
	cf := course(30)
	first, err := newRunner(st, p, 4).Run(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	second, err := newRunner(st, p, 4).Run(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stats.ProviderCalls != 0 || second.Stats.Resumed != 30 || p.total.Load() != 30 {
		t.Fatalf("second run: calls %d resumed %d total %d; want 0, 30, 30", second.Stats.ProviderCalls, second.Stats.Resumed, p.total.Load())
	}
	if first.JobID != second.JobID || first.Stats.MergedGroups != second.Stats.MergedGroups {
		t.Fatalf("second run differs: %s/%d vs %s/%d", first.JobID, first.Stats.MergedGroups, second.JobID, second.Stats.MergedGroups)
	}
	// The same texts in a different course file (one exercise added at the end) form a
	// new job whose first 30 analyses come from the cache.
	bigger := course(31)
	third, err := newRunner(st, p, 4).Run(context.Background(), bigger)
	if err != nil {
		t.Fatal(err)
	}
	if third.JobID == first.JobID || third.Stats.CacheHits != 30 || third.Stats.ProviderCalls != 1 {
		t.Fatalf("third run: job %s cache hits %d calls %d; want a new job, 30, 1", third.JobID, third.Stats.CacheHits, third.Stats.ProviderCalls)
	}
	// --force ignores results and cache.
	r := newRunner(st, p, 4)
	r.Force = true
	forced, err := r.Run(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	if forced.Stats.ProviderCalls != 30 || forced.Stats.CacheHits != 0 {
		t.Fatalf("forced run: calls %d cache hits %d; want 30, 0", forced.Stats.ProviderCalls, forced.Stats.CacheHits)
	}
}

func TestInterruptedRunResumes(t *testing.T) {
	st := openStore(t, t.TempDir())
	cf := course(40)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	p := &fakeProvider{fail: func(pos, call int) error {
		if pos >= 20 {
			once.Do(cancel)
		}
		return nil
	}}
	_, err := newRunner(st, p, 1).Run(ctx, cf)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	stored, err := st.Results(context.Background(), pipeline.JobID(cf, "examina-analysis/v1", "fake", "fake-1", "en"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < 20 || len(stored) >= 40 {
		t.Fatalf("stored %d results after the interruption, want 20..39", len(stored))
	}
	before := p.total.Load()
	p.fail = nil
	res, err := newRunner(st, p, 3).Run(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Resumed != len(stored) || int64(res.Stats.ProviderCalls) != p.total.Load()-before || res.Stats.Resumed+res.Stats.ProviderCalls != 40 {
		t.Fatalf("resumed %d calls %d, want %d resumed and the rest called", res.Stats.Resumed, res.Stats.ProviderCalls, len(stored))
	}
	jobs, _ := st.ListJobs(context.Background())
	if len(jobs) != 1 || jobs[0].Status != examina.JobCompleted {
		t.Fatalf("jobs after resume: %+v", jobs)
	}
}

func TestRetriesAndDegraded(t *testing.T) {
	transient := &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 500}
	permanent := &examina.ProviderError{Provider: "fake", Kind: examina.KindPermanent, HTTPStatus: 401}
	limited := &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, RetryAfter: 7 * time.Second}
	tests := []struct {
		name         string
		fail         func(pos, call int) error
		wantStatus   examina.Status
		wantAttempts int
		minWait      time.Duration
	}{
		{"ok first time", nil, examina.StatusOK, 1, 0},
		{"one transient", func(_, c int) error { return map[bool]error{true: transient}[c == 1] }, examina.StatusOK, 2, 0},
		{"retry-after honoured", func(_, c int) error { return map[bool]error{true: limited}[c == 1] }, examina.StatusOK, 2, 7 * time.Second},
		{"always transient", func(int, int) error { return transient }, examina.StatusDegraded, 3, 0},
		{"permanent not retried", func(int, int) error { return permanent }, examina.StatusDegraded, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &instantClock{}
			p := &fakeProvider{fail: tt.fail}
			a := &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Clock: clock, Language: "en"}
			got, err := a.Analyze(context.Background(), course(1).Course, course(1).Exercises[0], "")
			if got.Status != tt.wantStatus || got.Attempts != tt.wantAttempts || int(p.total.Load()) != tt.wantAttempts {
				t.Fatalf("status %s attempts %d calls %d, want %s %d", got.Status, got.Attempts, p.total.Load(), tt.wantStatus, tt.wantAttempts)
			}
			var ex *pipeline.ExhaustedError
			if (tt.wantStatus == examina.StatusDegraded) != errors.As(err, &ex) {
				t.Fatalf("err = %v for status %s", err, got.Status)
			}
			if len(got.AttemptLog) != tt.wantAttempts {
				t.Fatalf("attempt log has %d entries, want %d", len(got.AttemptLog), tt.wantAttempts)
			}
			var waited time.Duration
			for _, w := range clock.waits {
				waited += w
			}
			if waited < tt.minWait || time.Duration(got.WaitMS)*time.Millisecond != waited.Truncate(time.Millisecond) && tt.minWait > 0 {
				t.Fatalf("waited %v (meta %dms), want at least %v", waited, got.WaitMS, tt.minWait)
			}
		})
	}
}

func TestFailuresIsolated(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := &fakeProvider{fail: func(pos, _ int) error {
		if pos%5 == 0 {
			return &examina.ProviderError{Provider: "fake", Kind: examina.KindPermanent, HTTPStatus: 400}
		}
		return nil
	}}
	res, err := newRunner(st, p, 6).Run(context.Background(), course(25))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Degraded != 5 || res.Stats.Analyzed != 20 || res.Stats.Exercises != 25 {
		t.Fatalf("stats %+v, want 5 degraded, 20 analysed of 25", res.Stats)
	}
	for _, r := range res.Exercises {
		if (r.Position%5 == 0) != (r.Analysis.Status == examina.StatusDegraded) {
			t.Fatalf("exercise %d has status %s", r.Position, r.Analysis.Status)
		}
	}
	// --retry-degraded re-runs exactly the degraded ones.
	p.fail = nil
	before := p.total.Load()
	r := newRunner(st, p, 6)
	r.RetryDegraded = true
	res, err = r.Run(context.Background(), course(25))
	if err != nil {
		t.Fatal(err)
	}
	if p.total.Load()-before != 5 || res.Stats.Degraded != 0 {
		t.Fatalf("retry-degraded made %d calls, degraded %d; want 5, 0", p.total.Load()-before, res.Stats.Degraded)
	}
}

func TestDeadlineShortensCalls(t *testing.T) {
	// The provider would answer after a minute; the context ends in 4 s and the
	// Analyzer keeps a 2 s margin, so it must give up about 2 s in, leaving 2 s of slack
	// for a loaded machine before the deadline.
	p := &fakeProvider{hold: time.Minute}
	a := &pipeline.Analyzer{Provider: p, Policy: retry.Policy{MaxRetries: 5}, Language: "en", DeadlineMargin: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	got, err := a.Analyze(ctx, course(1).Course, course(1).Exercises[0], "")
	var ex *pipeline.ExhaustedError
	if !errors.As(err, &ex) || got.Status != examina.StatusDegraded {
		t.Fatalf("Analyze = %s, %v; want degraded with ExhaustedError before the deadline", got.Status, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Analyze returned after the deadline; it must report before it")
	}
}

// TestRepairAndEnlargeWithoutRetries: --retries 0 leaves transient failures one
// attempt, but invalid output still gets its repair and truncated output its larger
// budgets, each with a budget of its own.
func TestRepairAndEnlargeWithoutRetries(t *testing.T) {
	invalid := &examina.ProviderError{Provider: "fake", Kind: examina.KindInvalid, Reason: "invalid_output", Message: "confidence missing"}
	truncated := &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, Reason: "truncated", Message: "output hit the token budget"}
	boom := &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 500, Reason: "server_error"}
	tests := []struct {
		name     string
		fails    []error // the answer of each call; nil: a valid analysis
		status   examina.Status
		attempts int
	}{
		{"invalid then repaired", []error{invalid, nil}, examina.StatusOK, 2},
		{"invalid twice", []error{invalid, invalid, nil}, examina.StatusDegraded, 2},
		{"truncated three times then fits", []error{truncated, truncated, truncated, nil}, examina.StatusOK, 4},
		{"truncated at the largest budget", []error{truncated, truncated, truncated, truncated, nil}, examina.StatusDegraded, 4},
		{"a 500 is not retried", []error{boom, nil}, examina.StatusDegraded, 1},
		{"repair and enlargement together", []error{truncated, invalid, nil}, examina.StatusOK, 3},
		{"the provider says the context is full", []error{&examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, Reason: "truncated", Code: "model_context_window_exceeded"}, nil}, examina.StatusDegraded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{fail: func(_, call int) error {
				if call <= len(tt.fails) {
					return tt.fails[call-1]
				}
				return nil
			}}
			pol := retry.DefaultPolicy()
			pol.MaxRetries = 0
			a := &pipeline.Analyzer{Provider: p, Policy: pol, Clock: &instantClock{}, Language: "en"}
			out, _ := a.Analyze(context.Background(), course(1).Course, course(1).Exercises[0], "")
			if out.Status != tt.status || out.Attempts != tt.attempts {
				t.Fatalf("%s after %d attempts (%s), want %s after %d", out.Status, out.Attempts, out.Error, tt.status, tt.attempts)
			}
		})
	}
}

// learningProvider records when it learned the course, relative to its calls.
type learningProvider struct {
	fakeProvider
	mu        sync.Mutex
	learned   int // courses learned
	callsThen int64
	fail      error
}

func (p *learningProvider) LearnCourse(ctx context.Context, cf examina.CourseFile) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.learned++
	p.callsThen = p.total.Load()
	return p.fail
}

func TestCourseLearnerSeesTheCourseFirst(t *testing.T) {
	p := &learningProvider{}
	if _, err := newRunner(openStore(t, t.TempDir()), p, 4).Run(context.Background(), course(12)); err != nil {
		t.Fatal(err)
	}
	if p.learned != 1 || p.callsThen != 0 || p.total.Load() != 12 {
		t.Errorf("learned %d time(s) after %d calls, %d calls in all; want once, before any of the 12", p.learned, p.callsThen, p.total.Load())
	}
	boom := errors.New("boom")
	p = &learningProvider{fail: boom}
	if _, err := newRunner(openStore(t, t.TempDir()), p, 4).Run(context.Background(), course(3)); !errors.Is(err, boom) || p.total.Load() != 0 {
		t.Errorf("a failed LearnCourse: err %v after %d calls, want it wrapped before any call", err, p.total.Load())
	}
}
