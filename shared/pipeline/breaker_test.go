package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// outage makes the provider unreachable (connection refused) from the calls-th call
// on, for length of the clock's time.
type outage struct {
	clock  *instantClock
	after  int64
	length time.Duration

	calls  atomic.Int64
	mu     sync.Mutex
	downAt time.Time
}

func (o *outage) fail(_, _ int) error {
	n := o.calls.Add(1)
	if n <= o.after {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if o.downAt.IsZero() {
		o.downAt = now
	}
	if now.Sub(o.downAt) >= o.length {
		return nil
	}
	return &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, Reason: "connection",
		Message: `Post "http://127.0.0.1:8080/v1/chat/completions": dial tcp 127.0.0.1:8080: connect: connection refused`}
}

type pauses struct {
	mu      sync.Mutex
	paused  int
	resumed []time.Duration
	gaveUp  int
}

func (p *pauses) Paused(time.Time, error) { p.mu.Lock(); p.paused++; p.mu.Unlock() }
func (p *pauses) Resumed(d time.Duration, gaveUp bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resumed = append(p.resumed, d)
	if gaveUp {
		p.gaveUp++
	}
}

// progressWithPauses is a Progress that also hears pauses.
type progressWithPauses struct{ pauses }

func (*progressWithPauses) Start(int, int, int)         {}
func (*progressWithPauses) Done(examina.ExerciseResult) {}
func (*progressWithPauses) Finish()                     {}

// TestOutageDegradesNothing is issue 14's target: the provider refuses connections for
// 60 s in the middle of a 35-exercise run. Without the breaker most exercises degrade
// (their two retries last about 1.5 s); with it every worker pauses, one call probes,
// the run resumes when the provider answers, and nothing degrades.
func TestOutageDegradesNothing(t *testing.T) {
	tests := []struct {
		name    string
		breaker *pipeline.BreakerConfig
		length  time.Duration
		check   func(t *testing.T, res examina.Result, p *pauses)
	}{
		{"without a breaker", nil, time.Minute, func(t *testing.T, res examina.Result, p *pauses) {
			if res.Stats.Degraded < 10 {
				t.Fatalf("%d degraded without a breaker: the outage did not bite, the test proves nothing", res.Stats.Degraded)
			}
		}},
		{"with the breaker", &pipeline.BreakerConfig{}, time.Minute, func(t *testing.T, res examina.Result, p *pauses) {
			if res.Stats.Degraded != 0 {
				t.Fatalf("%d degraded through a 60 s outage, want 0", res.Stats.Degraded)
			}
			if p.paused != 1 || len(p.resumed) != 1 || p.gaveUp != 0 || p.resumed[0] < time.Minute-pipeline.DefaultBreakerMaxWait || p.resumed[0] > time.Minute+2*pipeline.DefaultBreakerMaxWait {
				t.Fatalf("paused %d, resumed after %v (gave up %d): want one pause of about a minute", p.paused, p.resumed, p.gaveUp)
			}
		}},
		{"an outage longer than MaxPause degrades", &pipeline.BreakerConfig{MaxPause: 30 * time.Second}, time.Hour, func(t *testing.T, res examina.Result, p *pauses) {
			if res.Stats.Degraded == 0 || p.gaveUp != 1 {
				t.Fatalf("%d degraded, gave up %d: want the breaker to give up after 30 s and the rest to degrade", res.Stats.Degraded, p.gaveUp)
			}
			if p.resumed[0] < 30*time.Second || p.resumed[0] > 30*time.Second+pipeline.DefaultBreakerMaxWait {
				t.Fatalf("gave up after %v, want about 30 s", p.resumed[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &instantClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
			o := &outage{clock: clock, after: 12, length: tt.length}
			p := &fakeProvider{fail: o.fail}
			prog := &progressWithPauses{}
			pol := retry.DefaultPolicy()
			pol.Jitter = func() float64 { return 1 }
			r := &pipeline.Runner{
				Store:     openStore(t, t.TempDir()),
				Analyzer:  &pipeline.Analyzer{Provider: p, Policy: pol, Clock: clock, Language: "en"},
				BatchSize: 4, Clock: clock, Breaker: tt.breaker, Progress: prog,
			}
			res, err := r.Run(context.Background(), course(35))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("degraded %d, calls %d, pauses %d, resumed after %v", res.Stats.Degraded, res.Stats.ProviderCalls, prog.paused, prog.resumed)
			tt.check(t, res, &prog.pauses)
		})
	}
}

func TestOutageClassification(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&examina.ProviderError{Kind: examina.KindTransient, Reason: "connection"}, true},
		{&examina.ProviderError{Kind: examina.KindTransient, Reason: "timeout"}, true},
		{&examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 502, Reason: "server_error"}, true},
		{&examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 503, Reason: "unavailable", RateLimit: true}, true},
		{&examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, Reason: "rate_limited", RateLimit: true}, false},
		{&examina.ProviderError{Kind: examina.KindPermanent, HTTPStatus: 400}, false},
		{&examina.ProviderError{Kind: examina.KindTransient, Reason: "truncated"}, false},
		{&examina.ProviderError{Kind: examina.KindTransient, Reason: "cancelled", Err: context.Canceled}, false},
		{errors.New("other"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := pipeline.Outage(tt.err); got != tt.want {
			t.Errorf("Outage(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestOneBadExerciseDoesNotPause: an exercise whose every call gets a 500 while the
// others succeed is that exercise's fault: it degrades, the run never pauses.
func TestOneBadExerciseDoesNotPause(t *testing.T) {
	clock := &instantClock{}
	p := &fakeProvider{fail: func(pos, _ int) error {
		if pos == 5 {
			return &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 500, Reason: "server_error", Message: "The model produced output that does not match the expected peg-native format"}
		}
		return nil
	}}
	prog := &progressWithPauses{}
	r := &pipeline.Runner{Store: openStore(t, t.TempDir()), Analyzer: &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Clock: clock, Language: "en"},
		BatchSize: 1, Clock: clock, Breaker: &pipeline.BreakerConfig{}, Progress: prog}
	res, err := r.Run(context.Background(), course(10))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Degraded != 1 || prog.paused != 0 {
		t.Fatalf("degraded %d, paused %d: want one degraded exercise and no pause", res.Stats.Degraded, prog.paused)
	}
}
