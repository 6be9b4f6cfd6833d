package simulated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
)

// recorder is an injected Sleep that never waits and records every requested duration.
type recorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) sorted() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.d)
	slices.Sort(out)
	return out
}

func request(id string) examina.Request {
	return examina.Request{
		Language: "en",
		Exercise: examina.Exercise{ID: id, Text: "Si consideri una cache a mappatura diretta da 4 KB con blocchi da 16 byte."},
		Previous: "Esame di Architettura degli Elaboratori - 12 giugno 2024",
	}
}

// run makes n calls, one per exercise id, and returns the errors.
func run(t *testing.T, p *Provider, n int) []error {
	t.Helper()
	errs := make([]error, n)
	for i := range n {
		_, errs[i] = p.Complete(context.Background(), request(fmt.Sprintf("ex-%d", i)))
	}
	return errs
}

func TestLognormalDistribution(t *testing.T) {
	rec := &recorder{}
	median, p99 := 1500*time.Millisecond, 7*time.Second
	p := New(Config{Dist: "lognormal", Median: median, P99: p99, Seed: 7, Sleep: rec.sleep})
	for _, err := range run(t, p, 10000) {
		if err != nil {
			t.Fatal(err)
		}
	}
	d := rec.sorted()
	if len(d) != 10000 {
		t.Fatalf("%d sleeps", len(d))
	}
	gotMedian, gotP99 := d[len(d)/2], d[len(d)*99/100]
	t.Logf("10000 draws: median %v (want %v), p99 %v (want %v), max %v", gotMedian, median, gotP99, p99, d[len(d)-1])
	if r := float64(gotMedian) / float64(median); r < 0.95 || r > 1.05 {
		t.Errorf("median %v, want %v ±5%%", gotMedian, median)
	}
	if r := float64(gotP99) / float64(p99); r < 0.88 || r > 1.12 {
		t.Errorf("p99 %v, want %v ±12%%", gotP99, p99)
	}
	if d[0] <= 0 || d[len(d)-1] <= p99 {
		t.Errorf("min %v max %v: want positive and a tail beyond p99", d[0], d[len(d)-1])
	}
}

func TestUniformAndFixedDistributions(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		lo, hi   time.Duration
		wantMean time.Duration
	}{
		{"uniform", Config{Dist: "uniform", Latency: 500 * time.Millisecond, Jitter: time.Second}, 500 * time.Millisecond, 1500 * time.Millisecond, time.Second},
		{"default is uniform", Config{Latency: 200 * time.Millisecond, Jitter: 200 * time.Millisecond}, 200 * time.Millisecond, 400 * time.Millisecond, 300 * time.Millisecond},
		{"fixed", Config{Dist: "fixed", Latency: 2 * time.Second, Jitter: time.Hour}, 2 * time.Second, 2 * time.Second, 2 * time.Second},
		{"zero", Config{}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			tt.cfg.Sleep = rec.sleep
			run(t, New(tt.cfg), 10000)
			d := rec.sorted()
			if d[0] < tt.lo || d[len(d)-1] > tt.hi {
				t.Errorf("range [%v, %v], want within [%v, %v]", d[0], d[len(d)-1], tt.lo, tt.hi)
			}
			var sum float64
			for _, x := range d {
				sum += float64(x)
			}
			mean := time.Duration(sum / float64(len(d)))
			if diff := math.Abs(float64(mean - tt.wantMean)); diff > 0.02*float64(tt.wantMean) {
				t.Errorf("mean %v, want %v ±2%%", mean, tt.wantMean)
			}
		})
	}
}

func TestFailureRate(t *testing.T) {
	kinds := []string{Fail429, Fail500, Fail503, Fail529, FailTruncated, Fail401, FailGarbage}
	rec := &recorder{}
	p := New(Config{FailureRate: 0.2, Failures: kinds, Seed: 42, Sleep: rec.sleep})
	const n = 10000
	failed := 0
	byKind := map[string]int{}
	for i := range n {
		resp, err := p.Complete(context.Background(), request(fmt.Sprintf("ex-%d", i)))
		var pe *examina.ProviderError
		switch {
		case errors.As(err, &pe):
			failed++
			if pe.Reason == "truncated" {
				byKind[FailTruncated]++
			} else {
				byKind[fmt.Sprint(pe.HTTPStatus)]++
			}
		case err != nil:
			t.Fatal(err)
		case !json.Valid([]byte(resp.Text)):
			failed++
			byKind[FailGarbage]++
		}
	}
	t.Logf("failure rate %.4f over %d calls, by kind %v", float64(failed)/n, n, byKind)
	if rate := float64(failed) / n; rate < 0.185 || rate > 0.215 {
		t.Errorf("failure rate %.3f, want 0.20 ± 0.015", rate)
	}
	for _, k := range kinds {
		share := float64(byKind[k]) / float64(failed)
		if want := 1.0 / float64(len(kinds)); share < 0.7*want || share > 1.3*want {
			t.Errorf("kind %s: share %.3f of failures, want about %.3f", k, share, want)
		}
	}
	if p.Calls() != n {
		t.Errorf("Calls() = %d", p.Calls())
	}

	// No failures when the rate is zero, and always a failure when it is one.
	for _, err := range run(t, New(Config{Sleep: rec.sleep, Failures: kinds}), 1000) {
		if err != nil {
			t.Fatalf("rate 0: %v", err)
		}
	}
	for _, err := range run(t, New(Config{FailureRate: 1, Sleep: rec.sleep}), 1000) {
		if examina.KindOf(err) != examina.KindTransient {
			t.Fatalf("rate 1 with default kinds: %v", err)
		}
	}
}

func TestFailureKinds(t *testing.T) {
	tests := []struct {
		kind       string
		errKind    examina.Kind
		status     int
		reason     string
		rateLimit  bool
		retryAfter time.Duration
		wait       time.Duration
	}{
		{Fail429, examina.KindTransient, 429, "rate_limited", true, 3 * time.Second, 100 * time.Millisecond},
		{Fail500, examina.KindTransient, 500, "server_error", false, 0, 100 * time.Millisecond},
		{Fail503, examina.KindTransient, 503, "unavailable", true, 0, 100 * time.Millisecond},
		{Fail529, examina.KindTransient, 529, "overloaded", true, 0, 100 * time.Millisecond},
		{FailTimeout, examina.KindTransient, 0, "timeout", false, 0, TimeoutAfter},
		{FailTruncated, examina.KindTransient, 200, "truncated", false, 0, time.Second},
		{Fail401, examina.KindPermanent, 401, "unauthorized", false, 0, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			rec := &recorder{}
			p := New(Config{Dist: "fixed", Latency: time.Second, FailureRate: 1, Failures: []string{tt.kind}, RetryAfter: 3 * time.Second, Sleep: rec.sleep})
			_, err := p.Complete(context.Background(), request("e1"))
			var pe *examina.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ProviderError", err)
			}
			if examina.KindOf(err) != tt.errKind || pe.HTTPStatus != tt.status || pe.Reason != tt.reason || pe.RateLimit != tt.rateLimit || pe.RetryAfter != tt.retryAfter || pe.Provider != "simulated" {
				t.Errorf("got %+v", pe)
			}
			if d := rec.sorted(); len(d) != 1 || d[0] != tt.wait {
				t.Errorf("slept %v, want [%v]", d, tt.wait)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		p := New(Config{FailureRate: 1, Failures: []string{FailGarbage}, Sleep: (&recorder{}).sleep})
		for i := range 50 {
			resp, err := p.Complete(context.Background(), request(fmt.Sprint(i)))
			if err != nil || resp.Text == "" || json.Valid([]byte(resp.Text)) || resp.HTTPStatus != 200 {
				t.Fatalf("garbage: %v %q", err, resp.Text)
			}
		}
	})
}

func TestSuccessfulResponse(t *testing.T) {
	req := request("e1")
	req.Language = "it"
	p := New(Config{Model: "fake-large", Sleep: (&recorder{}).sleep})
	if p.Name() != "simulated" || p.Model() != "fake-large" || New(Config{}).Model() != DefaultModel {
		t.Fatalf("name/model %q/%q", p.Name(), p.Model())
	}
	var _ examina.Provider = p
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(offline.Analyze("it", req.Exercise.Text, req.Previous))
	if resp.Text != string(want) {
		t.Errorf("text %s, want the offline analysis %s", resp.Text, want)
	}
	if resp.Heuristic || resp.Model != "fake-large" || resp.HTTPStatus != 200 || resp.InputTokens == 0 || resp.OutputTokens != offline.EstimateTokens(resp.Text) {
		t.Errorf("response %+v", resp)
	}
}

// outcome is everything observable about one call.
type outcome struct {
	Text, Err string
	Slept     time.Duration
}

type idKey struct{}

// TestDeterminismIndependentOfInterleaving runs the same calls sequentially and from
// concurrent goroutines in another order: every exercise must see the same sequence of
// latencies, failures and answers.
func TestDeterminismIndependentOfInterleaving(t *testing.T) {
	const exercises, callsEach = 40, 4
	collect := func(concurrent bool) map[string][]outcome {
		var mu sync.Mutex
		slept := map[string]time.Duration{}
		sleepFn := func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept[ctx.Value(idKey{}).(string)] = d
			n := len(slept)
			mu.Unlock()
			if concurrent {
				time.Sleep(time.Duration(n%3) * time.Microsecond) // shake the interleaving
			}
			return nil
		}
		p := New(Config{Dist: "lognormal", Median: time.Second, P99: 5 * time.Second, FailureRate: 0.4,
			Failures: []string{Fail429, Fail503, FailGarbage, FailTruncated}, Seed: 99, Sleep: sleepFn})
		out := map[string][]outcome{}
		one := func(id string) {
			for range callsEach {
				ctx := context.WithValue(context.Background(), idKey{}, id)
				resp, err := p.Complete(ctx, request(id))
				o := outcome{Text: resp.Text}
				if err != nil {
					o.Err = err.Error()
				}
				mu.Lock()
				o.Slept = slept[id]
				out[id] = append(out[id], o)
				mu.Unlock()
			}
		}
		if !concurrent {
			for i := range exercises {
				one(fmt.Sprint("ex-", i))
			}
			return out
		}
		var wg sync.WaitGroup
		for i := exercises - 1; i >= 0; i-- {
			wg.Go(func() { one(fmt.Sprint("ex-", i)) })
		}
		wg.Wait()
		return out
	}
	seq, conc := collect(false), collect(true)
	failures := 0
	for id, want := range seq {
		got := conc[id]
		if !slices.Equal(got, want) {
			t.Errorf("%s: sequential %+v\nconcurrent %+v", id, want, got)
		}
		for _, o := range want {
			if o.Err != "" || !json.Valid([]byte(o.Text)) {
				failures++
			}
		}
	}
	if failures == 0 || failures == exercises*callsEach {
		t.Errorf("%d failures: the test does not exercise the failure draw", failures)
	}
	// A different seed gives a different plan.
	a, b := New(Config{FailureRate: 0.5, Seed: 1}), New(Config{FailureRate: 0.5, Seed: 2})
	same := 0
	for i := range 100 {
		if a.Planned(fmt.Sprint(i), 1) == b.Planned(fmt.Sprint(i), 1) {
			same++
		}
	}
	if same > 80 {
		t.Errorf("seeds 1 and 2 agree on %d/100 plans", same)
	}
}

func TestCallsPerExercise(t *testing.T) {
	p := New(Config{FailureRate: 0.5, Sleep: (&recorder{}).sleep})
	var plans []Plan
	for call := int64(1); call <= 6; call++ {
		plans = append(plans, p.Planned("e1", call))
		p.Complete(context.Background(), request("e1"))
	}
	p.Complete(context.Background(), request("e2"))
	if p.CallsFor("e1") != 6 || p.CallsFor("e2") != 1 || p.CallsFor("none") != 0 || p.Calls() != 7 {
		t.Errorf("calls e1=%d e2=%d total=%d", p.CallsFor("e1"), p.CallsFor("e2"), p.Calls())
	}
	// Retries of one exercise draw afresh: not every call has the same fate.
	fates := map[string]bool{}
	for _, pl := range plans {
		fates[pl.Failure] = true
	}
	if len(fates) < 2 {
		t.Errorf("six calls of one exercise all planned %v", plans)
	}
}

func TestInFlightCounters(t *testing.T) {
	const n = 5
	release := make(chan struct{})
	p := New(Config{Latency: time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := p.Complete(context.Background(), request(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.InFlight() != n {
		if time.Now().After(deadline) {
			t.Fatalf("in flight %d, want %d", p.InFlight(), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if p.InFlight() != 0 || p.MaxInFlight() != n || p.Calls() != n {
		t.Errorf("in flight %d, max %d, calls %d", p.InFlight(), p.MaxInFlight(), p.Calls())
	}
}

// TestCancellationDuringSleep uses the real timer: a 10-minute latency or timeout must
// end as soon as ctx is cancelled.
func TestCancellationDuringSleep(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"latency", Config{Dist: "fixed", Latency: 10 * time.Minute}},
		{"timeout failure", Config{FailureRate: 1, Failures: []string{FailTimeout}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := p.Complete(ctx, request("e1"))
				done <- err
			}()
			for p.InFlight() == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			select {
			case err := <-done:
				var pe *examina.ProviderError
				if !errors.As(err, &pe) || pe.Kind != examina.KindTransient || !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v", err)
				}
				if el := time.Since(start); el > 2*time.Second {
					t.Errorf("took %v", el)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Complete did not return after cancel")
			}
		})
	}
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := New(Config{FailureRate: 1, Failures: []string{FailTimeout}}).Complete(ctx, request("e1"))
		var pe *examina.ProviderError
		if !errors.As(err, &pe) || pe.Reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p := New(Config{})
		// The call is counted (it takes its place in the plan) but does nothing.
		if _, err := p.Complete(ctx, request("e1")); !errors.Is(err, context.Canceled) || p.Calls() != 1 || p.InFlight() != 0 {
			t.Errorf("err = %v, calls %d, in flight %d; want canceled, 1 call, 0 in flight", err, p.Calls(), p.InFlight())
		}
	})
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"unknown dist", Config{Dist: "poisson"}},
		{"lognormal without median", Config{Dist: "lognormal", P99: time.Second}},
		{"p99 below median", Config{Dist: "lognormal", Median: 2 * time.Second, P99: time.Second}},
		{"negative latency", Config{Latency: -time.Second}},
		{"rate above one", Config{FailureRate: 1.5}},
		{"negative rate", Config{FailureRate: -0.1}},
		{"NaN rate", Config{FailureRate: math.NaN()}},
		{"unknown kind", Config{Failures: []string{"418"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); examina.KindOf(err) != examina.KindInvalid {
				t.Fatalf("Validate() = %v, want KindInvalid", err)
			}
			tt.cfg.Sleep = (&recorder{}).sleep
			if _, err := New(tt.cfg).Complete(context.Background(), request("e1")); examina.KindOf(err) != examina.KindInvalid {
				t.Errorf("Complete err = %v, want KindInvalid", err)
			}
		})
	}
	valid := Config{Dist: "LogNormal", Median: time.Second, P99: time.Second, FailureRate: 1, Failures: FailureKinds()}
	if err := valid.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestParseDist(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", DistUniform, true},
		{" Uniform ", DistUniform, true},
		{"lognormal", DistLognormal, true},
		{"log-normal", DistLognormal, true},
		{"FIXED", DistFixed, true},
		{"normal", "", false},
	}
	for _, tt := range tests {
		got, err := ParseDist(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseDist(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestParseFailures(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{" , ", nil, true},
		{"429", []string{"429"}, true},
		{"429, 503,TIMEOUT,,garbage", []string{"429", "503", "timeout", "garbage"}, true},
		{"429,429,500", []string{"429", "429", "500"}, true},
		{"429,404", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseFailures(tt.in)
		if !slices.Equal(got, tt.want) || (err == nil) != tt.ok {
			t.Errorf("ParseFailures(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("ParseFailures(%q) error kind %v", tt.in, examina.KindOf(err))
		}
	}
}
