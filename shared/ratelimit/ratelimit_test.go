package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestWindowEarliest(t *testing.T) {
	type step struct {
		now   float64 // seconds after t0
		n     int
		want  float64 // earliest start, seconds after t0
		added bool    // reserve it
	}
	tests := []struct {
		name  string
		limit int
		steps []step
	}{
		{"unlimited", 0, []step{{0, 5, 0, true}, {0, 5, 0, true}}},
		{"three a minute, burst then wait", 3, []step{
			{0, 1, 0, true}, {1, 1, 1, true}, {2, 1, 2, true},
			{3, 1, 60, true},  // the first expires at 60
			{3, 1, 61, true},  // then the second
			{70, 1, 70, true}, // the window has room again at 70 (only 60 and 61 in it... and 2 expired)
			{70, 1, 120, false},
		}},
		{"tokens", 100, []step{
			{0, 60, 0, true}, {1, 30, 1, true},
			{2, 20, 60, false},  // 90+20 > 100: wait for the 60 to expire
			{2, 10, 2, true},    // 100 fits exactly
			{3, 500, 62, false}, // more than the limit waits for an empty window
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := window{limit: tt.limit, per: time.Minute}
			for i, s := range tt.steps {
				got := w.earliest(at(s.now), s.n)
				if !got.Equal(at(s.want)) {
					t.Fatalf("step %d: earliest(%v, %d) = %v, want %v", i, s.now, s.n, got.Sub(t0), at(s.want).Sub(t0))
				}
				if s.added {
					w.add(got, s.n)
				}
			}
		})
	}
}

func TestAIMD(t *testing.T) {
	type ev struct {
		limited, success bool
		inflight         int
		want             int
	}
	tests := []struct {
		name    string
		initial int
		max     int
		events  []ev
	}{
		{"halve then one per window", 8, 8, []ev{
			{true, false, 3, 4},  // halved; 3 still in flight answer to the old limit
			{true, false, 2, 4},  // ignored
			{false, true, 1, 4},  // ignored for decrease, counts as a success
			{true, false, 0, 4},  // still one of the old ones
			{false, true, 0, 4},  // 2 successes
			{false, true, 0, 4},  // 3
			{false, true, 0, 5},  // 4 successes at limit 4: +1
			{true, false, 0, 2},  // a new 429 halves again
			{true, false, 0, 1},  // and again, never below 1
			{true, false, 0, 1},  //
			{false, true, 0, 2},  // one success at limit 1: +1
			{false, false, 0, 2}, // a plain failure changes nothing
		}},
		{"never above max", 2, 2, []ev{{false, true, 0, 2}, {false, true, 0, 2}, {false, true, 0, 2}}},
		{"bad initial is max", 0, 3, []ev{{false, true, 0, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAIMD(tt.initial, tt.max)
			for i, e := range tt.events {
				a.outcome(e.limited, e.success, e.inflight)
				if a.limit != e.want {
					t.Fatalf("event %d: limit %d, want %d", i, a.limit, e.want)
				}
			}
		})
	}
}

func rateLimited(after time.Duration) error {
	return &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, RetryAfter: after}
}

func TestGatePacesRequests(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := NewGate(Config{RPM: 3, MaxConcurrency: 10, Clock: clock, Slack: time.Nanosecond})
	ctx := context.Background()
	var starts []time.Duration
	for range 7 {
		if err := g.Acquire(ctx, 10); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, clock.Now().Sub(t0))
		g.Release(examina.Response{}, nil)
	}
	want := []time.Duration{0, 0, 0, time.Minute, time.Minute, time.Minute, 2 * time.Minute}
	for i := range want {
		if d := starts[i] - want[i]; d < 0 || d > time.Millisecond {
			t.Fatalf("starts %v, want %v", starts, want)
		}
	}
	if s := g.Stats(); s.Acquired != 7 || s.Waited < 2*time.Minute {
		t.Fatalf("stats %+v", s)
	}
}

func TestGatePacesTokens(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := NewGate(Config{TPM: 1000, Clock: clock, Slack: time.Nanosecond})
	ctx := context.Background()
	for i, want := range []time.Duration{0, 0, time.Minute, time.Minute, 2 * time.Minute} {
		if err := g.Acquire(ctx, 400); err != nil {
			t.Fatal(err)
		}
		if d := clock.Now().Sub(t0) - want; d < 0 || d > time.Millisecond {
			t.Fatalf("call %d started at %v, want %v", i, clock.Now().Sub(t0), want)
		}
		g.Release(examina.Response{}, nil)
	}
}

func TestGateHolds(t *testing.T) {
	tests := []struct {
		name string
		resp examina.Response
		err  error
		want time.Duration // next start after the release at t0
	}{
		{"429 retry-after", examina.Response{}, rateLimited(7 * time.Second), 7 * time.Second},
		{"429 retry-after capped", examina.Response{}, rateLimited(time.Hour), 2 * time.Minute},
		{"permanent 429 does not hold", examina.Response{}, &examina.ProviderError{Kind: examina.KindPermanent, HTTPStatus: 429, RetryAfter: time.Hour}, 0},
		{"requests exhausted", examina.Response{RateLimit: &examina.RateLimitInfo{RemainingRequests: 0, RemainingTokens: -1, ResetRequests: 12 * time.Second}}, nil, 12 * time.Second},
		{"requests left", examina.Response{RateLimit: &examina.RateLimitInfo{RemainingRequests: 3, RemainingTokens: -1, ResetRequests: 12 * time.Second}}, nil, 0},
		{"tokens short", examina.Response{RateLimit: &examina.RateLimitInfo{RemainingRequests: -1, RemainingTokens: 100, ResetTokens: 5 * time.Second}}, nil, 5 * time.Second},
		{"tokens enough", examina.Response{RateLimit: &examina.RateLimitInfo{RemainingRequests: -1, RemainingTokens: 5000, ResetTokens: 5 * time.Second}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			g := NewGate(Config{Clock: clock})
			if err := g.Acquire(context.Background(), 500); err != nil {
				t.Fatal(err)
			}
			g.Release(tt.resp, tt.err)
			if err := g.Acquire(context.Background(), 500); err != nil {
				t.Fatal(err)
			}
			if got := clock.Now().Sub(t0); got != tt.want {
				t.Fatalf("next call started after %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGateConcurrency(t *testing.T) {
	g := NewGate(Config{MaxConcurrency: 4})
	ctx := context.Background()
	for range 4 {
		if err := g.Acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	// A fifth caller blocks until a release.
	done := make(chan error, 1)
	go func() { done <- g.Acquire(ctx, 1) }()
	select {
	case err := <-done:
		t.Fatalf("fifth Acquire returned %v while 4 were in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	// A 429 halves the limit to 2: releasing one of the 4 is not enough to admit it.
	g.Release(examina.Response{}, rateLimited(0))
	if g.Limit() != 2 {
		t.Fatalf("limit %d after a 429, want 2", g.Limit())
	}
	select {
	case err := <-done:
		t.Fatalf("Acquire returned %v with 3 in flight and a limit of 2", err)
	case <-time.After(20 * time.Millisecond):
	}
	g.Release(examina.Response{}, nil)
	g.Release(examina.Response{}, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Two successes at a limit of 2 raised it to 3.
	if g.Limit() != 3 {
		t.Fatalf("limit %d after a window of successes, want 3", g.Limit())
	}
	// A cancelled waiter gives up without taking a slot.
	g.Acquire(ctx, 1)
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- g.Acquire(cctx, 1) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v", err)
	}
	s := g.Stats()
	if s.Decreases != 1 || s.Increases != 1 || s.LowestLimit != 2 || s.RateLimited != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGateSleepCancelled(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := NewGate(Config{RPM: 1, Clock: clock, MaxConcurrency: 1})
	if err := g.Acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	g.Release(examina.Response{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want cancelled", err)
	}
	// The slot was given back, and so was the cancelled call's place in the request
	// window: the next call starts one minute after the first, not two.
	if err := g.Acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(t0); got > time.Minute+time.Second {
		t.Fatalf("the call after a cancelled wait started at +%v, want +1m: the cancelled reservation was kept", got)
	}
}

func TestGateParallelNeverExceedsLimits(t *testing.T) {
	const workers, calls = 8, 200
	g := NewGate(Config{MaxConcurrency: 3})
	var mu sync.Mutex
	inflight, peak := 0, 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls / workers {
				if err := g.Acquire(context.Background(), 1); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inflight++
				peak = max(peak, inflight)
				mu.Unlock()
				mu.Lock()
				inflight--
				mu.Unlock()
				var err error
				if (w+i)%17 == 0 {
					err = rateLimited(0)
				}
				g.Release(examina.Response{}, err)
			}
		}()
	}
	wg.Wait()
	if peak > 3 {
		t.Fatalf("peak in flight %d, limit 3", peak)
	}
	if s := g.Stats(); s.Acquired != calls || s.Limit < 1 || s.Limit > 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	a := r.Gate("groq", "m", Config{RPM: 30})
	if r.Gate("groq", "m", Config{RPM: 1}) != a {
		t.Fatal("same provider and model got different gates")
	}
	if r.Gate("groq", "other", Config{}) == a || r.Gate("openai", "m", Config{}) == a {
		t.Fatal("different models share a gate")
	}
}

// TestGateCancelledWaitKeepsWindow: RPM 2, two calls at +0 s, a third cancelled while
// waiting for +60 s: the fourth must still wait for +60 s. Booking the third at the
// future instant used to drop the window's entries expiring before it, and giving the
// third back left the window with one entry: the fourth was admitted at +0 s.
func TestGateCancelledWaitKeepsWindow(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := NewGate(Config{RPM: 2, Clock: clock, Slack: time.Nanosecond})
	ctx := context.Background()
	for range 2 {
		if err := g.Acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		g.Release(examina.Response{}, nil)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.Acquire(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("third Acquire = %v, want cancelled", err)
	}
	if err := g.Acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(t0); got < time.Minute {
		t.Fatalf("fourth call started at +%v with two calls at +0 under RPM 2, want +1m", got)
	}
}

// blockingClock is a fake clock whose sleepers block until Advance reaches their
// deadline, so a test can act while a caller sleeps.
type blockingClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	asleep  chan struct{} // receives once per Sleep that blocks
}

type waiter struct {
	until time.Time
	ch    chan struct{}
}

func newBlockingClock(start time.Time) *blockingClock {
	return &blockingClock{now: start, asleep: make(chan struct{}, 16)}
}

func (c *blockingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	if d <= 0 {
		c.mu.Unlock()
		return ctx.Err()
	}
	w := waiter{until: c.now.Add(d), ch: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	c.asleep <- struct{}{}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AdvanceTo moves the time to at and wakes the sleepers due by then.
func (c *blockingClock) AdvanceTo(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.until.After(at) {
			kept = append(kept, w)
		} else {
			close(w.ch)
		}
	}
	c.waiters = kept
}

// TestGatePauseHoldsSleepers: a server pause (429 with Retry-After) ordered while a
// caller already sleeps towards an earlier reserved slot holds that caller back too,
// instead of letting it fire into another 429.
func TestGatePauseHoldsSleepers(t *testing.T) {
	clock := newBlockingClock(t0)
	g := NewGate(Config{RPM: 1, Clock: clock, Slack: time.Nanosecond, MaxConcurrency: 2})
	ctx := context.Background()
	if err := g.Acquire(ctx, 1); err != nil { // the first call, in flight at +0
		t.Fatal(err)
	}
	started := make(chan time.Time, 1)
	go func() {
		if err := g.Acquire(ctx, 1); err != nil {
			t.Error(err)
		}
		started <- clock.Now()
	}()
	<-clock.asleep // the second call sleeps towards +60 s
	clock.AdvanceTo(at(1))
	g.Release(examina.Response{}, rateLimited(100*time.Second)) // pause until +101 s
	clock.AdvanceTo(at(61))
	select { // woken at +61, it must sleep again: the pause holds it
	case <-clock.asleep:
	case at := <-started:
		t.Fatalf("the sleeping call started at +%v, inside the server's pause until +101s", at.Sub(t0))
	}
	clock.AdvanceTo(at(101))
	if got := (<-started).Sub(t0); got < 101*time.Second {
		t.Fatalf("the sleeping call started at +%v, inside the server's pause until +101s", got)
	}
}

// TestGateSettleCreditsUnusedTokens: a call reserved by estimate and settled with its
// actual usage gives the unused budget back, so the next call need not wait a window.
func TestGateSettleCreditsUnusedTokens(t *testing.T) {
	tests := []struct {
		name   string
		resp   examina.Response
		second time.Duration
	}{
		{"usage below the estimate", examina.Response{InputTokens: 200, OutputTokens: 100}, 0},
		{"no usage reported keeps the estimate", examina.Response{}, time.Minute},
		{"usage above the estimate is booked", examina.Response{InputTokens: 700, OutputTokens: 300}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			g := NewGate(Config{TPM: 1000, Clock: clock, Slack: time.Nanosecond})
			ctx := context.Background()
			settle, err := g.Reserve(ctx, 800)
			if err != nil {
				t.Fatal(err)
			}
			settle(tt.resp, nil)
			settle, err = g.Reserve(ctx, 600)
			if err != nil {
				t.Fatal(err)
			}
			settle(examina.Response{}, nil)
			if got := clock.Now().Sub(t0); got < tt.second || got > tt.second+time.Millisecond {
				t.Fatalf("second call started at +%v, want +%v", got, tt.second)
			}
		})
	}
}

// TestGateSpreadsRequests: with Intervals, RPM is also enforced over shorter
// intervals, so a minute's budget is not sent at once.
func TestGateSpreadsRequests(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := NewGate(Config{RPM: 6, Intervals: 3, Clock: clock, Slack: time.Nanosecond})
	var starts []time.Duration
	for range 8 {
		if err := g.Acquire(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, clock.Now().Sub(t0).Round(time.Millisecond))
		g.Release(examina.Response{}, nil)
	}
	want := []time.Duration{0, 0, 20 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i := range want {
		if starts[i] != want[i] {
			t.Fatalf("starts %v, want %v", starts, want)
		}
	}
}
