package fleetgate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const key = "BUDGET#groq#m#abc"

func rateLimited(after time.Duration) error {
	return &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, RetryAfter: after}
}

func ok(in, out int) examina.Response { return examina.Response{InputTokens: in, OutputTokens: out} }

// call reserves and settles one call, returning when it started (relative to t0).
func call(t *testing.T, g *Gate, clock *retrytest.Clock, ctx context.Context, tokens int, resp examina.Response, err error) time.Duration {
	t.Helper()
	settle, rerr := g.Reserve(ctx, tokens)
	if rerr != nil {
		t.Fatalf("Reserve: %v", rerr)
	}
	at := clock.Now().Sub(t0)
	settle(resp, err)
	return at
}

func TestKeyHidesTheAPIKey(t *testing.T) {
	k := Key("groq", "m", "gsk_secret_0123456789")
	if k == Key("groq", "m", "gsk_other") || k == Key("openai", "m", "gsk_secret_0123456789") || len(k) > 40 {
		t.Fatalf("Key = %q", k)
	}
	for _, part := range []string{"secret", "0123"} {
		if slices.Contains([]string{k}, part) {
			t.Fatalf("Key %q contains the key", k)
		}
	}
}

// TestPacesEvenly: requests one every Per/RPM (with the headroom), not a minute's
// budget at once, across invocations sharing the item.
func TestPacesEvenly(t *testing.T) {
	clock := retrytest.NewClock(t0)
	tab := newMemTable()
	cfg := Config{RPM: 60, Clock: clock, MaxWait: time.Minute}
	a, b := New(tab, key, cfg), New(tab, key, cfg)
	var starts []time.Duration
	for i := range 6 {
		g := a
		if i%2 == 1 {
			g = b
		}
		starts = append(starts, call(t, g, clock, context.Background(), 100, ok(50, 20), nil))
	}
	for i := 1; i < len(starts); i++ {
		if d := starts[i] - starts[i-1]; d < 1019*time.Millisecond || d > 1021*time.Millisecond {
			t.Fatalf("starts %v: want one every 1.02s", starts)
		}
	}
}

// TestDefersAFarSlot: a slot further than MaxWait is booked and returned in a
// DeferError; the next try with that slot takes it without booking again.
func TestDefersAFarSlot(t *testing.T) {
	clock := retrytest.NewClock(t0)
	tab := newMemTable()
	g := New(tab, key, Config{RPM: 6, Clock: clock, MaxWait: 3 * time.Second})
	ctx := context.Background()
	call(t, g, clock, ctx, 10, ok(5, 5), nil)
	_, err := g.Reserve(ctx, 10)
	var de *pipeline.DeferError
	if !errors.As(err, &de) || de.Slot == "" || de.Wait < 10*time.Second || de.Wait > 10300*time.Millisecond {
		t.Fatalf("Reserve = %v (%+v), want a deferral of ~10.2s with its slot", err, de)
	}
	if st, _ := tab.Get(ctx, key); len(st.Leases) != 0 {
		t.Fatalf("a deferred booking holds a lease: %+v", st.Leases)
	}
	clock.Advance(de.Wait - time.Second) // redelivered a second early
	before := g.Stats().Requests
	at := call(t, g, clock, pipeline.WithSlot(ctx, de.Slot), 10, ok(5, 5), nil)
	if want := 10200 * time.Millisecond; at < want-time.Millisecond || at > want+time.Millisecond {
		t.Fatalf("the deferred call started at +%v, want its slot +%v", at, want)
	}
	if n := g.Stats().Requests - before; n != 1 {
		t.Fatalf("the deferred call made %d DynamoDB requests, want 1 (the settlement)", n)
	}
	// A retry of that call (same context, same slot) books a slot of its own.
	if _, err := g.Reserve(pipeline.WithSlot(ctx, de.Slot), 10); !errors.As(err, &de) || de.Wait < 10*time.Second {
		t.Fatalf("a retry with a used slot = %v, want a new booking after it", err)
	}
	// A third call is booked after the deferred one, not at its own instant.
	if _, err := g.Reserve(ctx, 10); !errors.As(err, &de) || de.Wait < 10*time.Second {
		t.Fatalf("third Reserve = %v, want a deferral behind the second", err)
	}
}

// TestHorizon: a caller whose slot would lie beyond the horizon is deferred without
// booking (and without a DynamoDB request when the last seen state says so), to come
// back when the backlog has shrunk to a quarter of the horizon.
func TestHorizon(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := New(newMemTable(), key, Config{RPM: 6, Clock: clock, MaxWait: time.Second, Horizon: 15 * time.Second})
	ctx := context.Background()
	call(t, g, clock, ctx, 10, ok(5, 5), nil)
	var de *pipeline.DeferError
	if _, err := g.Reserve(ctx, 10); !errors.As(err, &de) || de.Slot == "" {
		t.Fatalf("second Reserve = %v, want a booked deferral (10.2s ahead, inside the horizon)", err)
	}
	before := g.Stats().Requests
	// 20.4 s booked ahead: back when 7.5 s (half the horizon) are left, spread over
	// the next 7.5 s.
	if _, err := g.Reserve(ctx, 10); !errors.As(err, &de) || de.Slot != "" || de.Wait < 12900*time.Millisecond || de.Wait > 20400*time.Millisecond {
		t.Fatalf("third Reserve = %v (%+v), want an unbooked deferral of 12.9-20.4 s", err, de)
	}
	if n := g.Stats().Requests - before; n != 0 {
		t.Fatalf("an unbooked deferral made %d DynamoDB requests", n)
	}
}

// TestSettleCreditsTokens: the tokens a call did not use are given back to the fleet.
func TestSettleCreditsTokens(t *testing.T) {
	tests := []struct {
		name string
		resp examina.Response
		want time.Duration // second call's start
	}{
		{"used 300 of 800", ok(200, 100), 18360 * time.Millisecond}, // 300 tokens at 1000 a minute (+2%)
		{"no usage reported", examina.Response{}, 48960 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			g := New(newMemTable(), key, Config{TPM: 1000, Clock: clock, MaxWait: time.Hour})
			call(t, g, clock, context.Background(), 800, tt.resp, nil)
			// Tokens are paced evenly: the next call comes when the first's tokens
			// are paid for, 300 used (credited) or the 800 booked (no usage known).
			at := call(t, g, clock, context.Background(), 600, ok(1, 1), nil)
			if d := at - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("second call started at +%v, want +%v", at, tt.want)
			}
		})
	}
}

// TestAdaptiveConcurrency: a 429 halves the fleet's limit once for the calls in flight
// with it, a pause ordered by the provider holds every invocation, and a streak of
// successes raises the limit back, never above MaxConcurrency.
func TestAdaptiveConcurrency(t *testing.T) {
	clock := retrytest.NewClock(t0)
	tab := newMemTable()
	cfg := Config{Clock: clock, MaxConcurrency: 4, MaxWait: time.Hour}
	a, b := New(tab, key, cfg), New(tab, key, cfg)
	ctx := context.Background()
	s1, err := a.Reserve(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Reserve(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	s1(examina.Response{}, rateLimited(30*time.Second))
	s2(examina.Response{}, rateLimited(30*time.Second)) // in flight with the first: no second halving
	st, _ := tab.Get(ctx, key)
	if st.Clim != 2 || st.Gen != 1 || len(st.Leases) != 0 {
		t.Fatalf("after two 429s in flight together: limit %d, generation %d, leases %v; want 2, 1, none", st.Clim, st.Gen, st.Leases)
	}
	if at := call(t, b, clock, ctx, 10, ok(1, 1), nil); at < 30*time.Second {
		t.Fatalf("call after Retry-After 30s started at +%v", at)
	}
	for range 10 {
		call(t, a, clock, ctx, 10, ok(1, 1), nil)
	}
	if st, _ := tab.Get(ctx, key); st.Clim != 4 {
		t.Fatalf("limit %d after a streak of successes, want back to 4 (and not above)", st.Clim)
	}
}

// TestConcurrencyLimitDefers: with every lease taken, a new call waits up to MaxWait
// and is then deferred; an invocation killed mid-call frees its lease by expiry.
func TestConcurrencyLimitDefers(t *testing.T) {
	clock := retrytest.NewClock(t0)
	tab := newMemTable()
	cfg := Config{Clock: clock, MaxConcurrency: 2, MaxWait: 2 * time.Second, LeaseTTL: time.Minute}
	ctx := context.Background()
	for range 2 {
		if _, err := New(tab, key, cfg).Reserve(ctx, 10); err != nil { // never settled
			t.Fatal(err)
		}
	}
	var de *pipeline.DeferError
	if _, err := New(tab, key, cfg).Reserve(ctx, 10); !errors.As(err, &de) || de.Slot != "" {
		t.Fatalf("third Reserve = %v, want a deferral for the concurrency limit", err)
	}
	clock.Advance(time.Minute)
	if _, err := New(tab, key, cfg).Reserve(ctx, 10); err != nil {
		t.Fatalf("Reserve after the leases expired = %v", err)
	}
}

// frozenClock never moves: every booking is made at the same instant.
type frozenClock struct{}

func (frozenClock) Now() time.Time                             { return t0 }
func (frozenClock) Sleep(context.Context, time.Duration) error { return nil }

// TestConcurrentInvocationsNeverOverAdmit: 8 invocations booking at once through one
// item get distinct slots at least Per/RPM apart, and their token bookings never
// exceed the token rate.
func TestConcurrentInvocationsNeverOverAdmit(t *testing.T) {
	tab := newMemTable()
	cfg := Config{RPM: 120, TPM: 60000, Clock: frozenClock{}, MaxWait: time.Hour, MaxConcurrency: 1000, Horizon: time.Hour}
	var mu sync.Mutex
	var slots []int64
	var wg sync.WaitGroup
	for range 8 {
		g := New(tab, key, cfg)
		wg.Go(func() {
			for range 25 {
				b, err := g.book(context.Background(), 700)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				slots = append(slots, b.At)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(slots)
	ir := int64(float64(time.Minute.Milliseconds()) * 1.02 / 120)
	it := float64(time.Minute.Milliseconds()) * 1.02 / 60000
	for i := 1; i < len(slots); i++ {
		if d := slots[i] - slots[i-1]; d < ir-1 && float64(d) < 700*it-1 {
			t.Fatalf("slots %d and %d are %d ms apart, want >= %d ms", i-1, i, d, ir)
		}
	}
	if want := int64(199) * max(ir, int64(700*it)); slots[len(slots)-1]-slots[0] < want-200 {
		t.Fatalf("200 bookings span %d ms, want >= %d", slots[len(slots)-1]-slots[0], want)
	}
}

// TestRequestsPerCall: under load, a call costs two DynamoDB requests (book, settle).
func TestRequestsPerCall(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := New(newMemTable(), key, Config{RPM: 600, TPM: 1e6, Clock: clock, MaxWait: time.Minute})
	const calls = 50
	for range calls {
		call(t, g, clock, context.Background(), 500, ok(200, 100), nil)
	}
	st := g.Stats()
	if per := float64(st.Requests) / calls; per > 2.1 {
		t.Fatalf("%d requests for %d calls (%.2f per call), want at most 2 (+ the first booking)", st.Requests, calls, per)
	}
	// A new invocation on the busy budget books on its first request: the fast path
	// on a guess, without reading the item first.
	for _, tpm := range []int{1e6, 30000} { // requests bind, tokens bind
		tab := newMemTable()
		cfg := Config{RPM: 600, TPM: tpm, Clock: clock, MaxWait: time.Hour}
		call(t, New(tab, key, cfg), clock, context.Background(), 500, ok(200, 100), nil)
		fresh := New(tab, key, cfg)
		if _, err := fresh.Reserve(context.Background(), 500); err != nil || fresh.Stats().Requests != 1 {
			t.Fatalf("TPM %d: a new invocation's first booking = %v after %d requests, want booked with 1", tpm, err, fresh.Stats().Requests)
		}
	}
}

func TestDecodeBooking(t *testing.T) {
	b := booking{At: 1767225600123, Tokens: 900, Estimate: 1400, Gen: 3}
	got, err := decodeBooking(b.encode())
	if err != nil || got != b {
		t.Fatalf("round trip %+v -> %+v, %v", b, got, err)
	}
	for _, bad := range []string{"", "v1:1:2:3", "v2:1:2:3:4", "v1:x:2:3:4", "v1:-1:2:3:4"} {
		if _, err := decodeBooking(bad); err == nil {
			t.Errorf("decodeBooking(%q) accepted", bad)
		}
	}
}

// brokenTable fails every booking, as a throttled or unreachable DynamoDB would.
type brokenTable struct{ *memTable }

func (brokenTable) FastBook(context.Context, string, FastBook) (State, bool, error) {
	return State{}, false, errors.New("ProvisionedThroughputExceededException")
}
func (brokenTable) CASBook(context.Context, string, CASBook) (State, bool, error) {
	return State{}, false, errors.New("ProvisionedThroughputExceededException")
}

// TestFailingBudgetDefers: a budget that cannot be written defers the call for a
// second or two; it never fails (and so never degrades) the exercise.
func TestFailingBudgetDefers(t *testing.T) {
	g := New(brokenTable{newMemTable()}, key, Config{RPM: 60, Clock: retrytest.NewClock(t0)})
	_, err := g.Reserve(context.Background(), 10)
	var de *pipeline.DeferError
	if !errors.As(err, &de) || de.Slot != "" || de.Wait < time.Second || de.Wait > 2*time.Second {
		t.Fatalf("Reserve = %v, want a short deferral", err)
	}
}

// TestRequestsNeverCloserThanTheInterval: when the token timeline is the later one,
// the request timeline restarts one interval after each slot, so tokens credited back
// later let a call come sooner only down to the request interval, never between two
// calls already booked (before, the request timeline lagged behind the slots and a
// credit let the next call in one second after the previous one, against RPM 6).
func TestRequestsNeverCloserThanTheInterval(t *testing.T) {
	for _, path := range []string{"fast", "exact"} {
		t.Run(path, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			tab := newMemTable()
			// RPM 6: one request every 10.2 s; TPM 600: 200 tokens are 20.4 s.
			cfg := Config{RPM: 6, TPM: 600, Clock: clock, MaxWait: time.Hour}
			a, b := New(tab, key, cfg), New(tab, key, cfg)
			ctx := context.Background()
			settleA, err := a.Reserve(ctx, 200) // at +0
			if err != nil {
				t.Fatal(err)
			}
			if path == "exact" {
				// A pause in force sends B's booking down the read-and-write path.
				tab.Hold(ctx, key, t0.Add(time.Millisecond).UnixMilli())
			} else {
				b = a
			}
			settleB, err := b.Reserve(ctx, 200) // at +20.4 s: the tokens
			if err != nil {
				t.Fatal(err)
			}
			if got := clock.Now().Sub(t0); got != 20400*time.Millisecond {
				t.Fatalf("B started at +%v, want +20.4s", got)
			}
			settleA(ok(5, 5), nil) // 190 tokens credited: the token timeline comes back 19.4 s
			st, _ := tab.Get(ctx, key)
			if want := t0.Add(30600 * time.Millisecond).UnixMilli(); st.Rtat != want {
				t.Fatalf("request timeline at +%v, want +30.6s (one interval after B's slot)", time.UnixMilli(st.Rtat).Sub(t0))
			}
			settleB(ok(5, 5), nil)
			if at := call(t, a, clock, ctx, 10, ok(5, 5), nil); at < 30600*time.Millisecond {
				t.Fatalf("C started at +%v, %v after B: closer than the request interval 10.2s", at, at-20400*time.Millisecond)
			}
		})
	}
}

// TestCostAndHorizonLearn: slots are booked at the estimate and only two MaxWaits
// ahead until calls have been settled; then at the learned ratio with a margin that
// shrinks with the calls learned from, and further ahead.
func TestCostAndHorizonLearn(t *testing.T) {
	g := New(newMemTable(), key, Config{RPM: 60, TPM: 36000, MaxWait: 3 * time.Second})
	tests := []struct {
		name        string
		st          State
		wantCost    int
		wantHorizon time.Duration
	}{
		{"nothing learned", State{}, 2000, 6 * time.Second},
		{"one call at 40%", State{Used: 800, Est: 2000, Settled: 1}, 880, 7500 * time.Millisecond},     // 0.4 x 1.1
		{"two calls", State{Used: 1600, Est: 4000, Settled: 2}, 857, 14 * time.Minute},                 // 0.4 x 1.0707
		{"25 calls at 40%", State{Used: 20000, Est: 50000, Settled: 25}, 816, 14 * time.Minute},        // 0.4 x 1.02
		{"usage above the estimate", State{Used: 3000, Est: 2000, Settled: 3}, 2000, 14 * time.Minute}, // never above
		{"older item without the count", State{Used: 6000, Est: 15000}, 830, 14 * time.Minute},         // 7 estimates: 0.4 x 1.038
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cost(2000, tt.st); got != tt.wantCost {
				t.Errorf("cost = %d, want %d", got, tt.wantCost)
			}
			if got := g.horizon(2000, tt.st); got != tt.wantHorizon {
				t.Errorf("horizon = %v, want %v", got, tt.wantHorizon)
			}
		})
	}
	if h := New(newMemTable(), key, Config{RPM: 60}).horizon(2000, State{}); h != 14*time.Minute {
		t.Errorf("without a token limit the horizon is %v, want the full 14 minutes", h)
	}
}

// TestHeadersTighten: what the provider announces in its headers pauses the fleet
// until its reset when the budget it has left cannot take the next call, and only
// then: a request budget at 0, or fewer tokens left than a call is expected to use
// (the learned cost, not the larger estimate).
func TestHeadersTighten(t *testing.T) {
	withRL := func(rl examina.RateLimitInfo) examina.Response {
		r := ok(300, 100)
		r.RateLimit = &rl
		return r
	}
	tests := []struct {
		name string
		resp examina.Response
		want time.Duration // the second call's start
	}{
		{"requests exhausted", withRL(examina.RateLimitInfo{RemainingRequests: 0, ResetRequests: 5 * time.Second, RemainingTokens: -1}), 5 * time.Second},
		{"tokens below one call", withRL(examina.RateLimitInfo{RemainingRequests: 9, RemainingTokens: 200, ResetTokens: 4 * time.Second}), 4 * time.Second},
		{"tokens below the estimate but above a call's usage", withRL(examina.RateLimitInfo{RemainingRequests: 9, RemainingTokens: 700, ResetTokens: 4 * time.Second}), 1020 * time.Millisecond},
		{"plenty left", withRL(examina.RateLimitInfo{RemainingRequests: 9, RemainingTokens: 50000, ResetTokens: 4 * time.Second}), 1020 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			g := New(newMemTable(), key, Config{RPM: 60, TPM: 1e6, Clock: clock, MaxWait: time.Minute})
			ctx := context.Background()
			call(t, g, clock, ctx, 1000, tt.resp, nil) // 400 of 1000 used: a call is expected to use 500
			if at := call(t, g, clock, ctx, 1000, ok(300, 100), nil); at != tt.want {
				t.Fatalf("second call at +%v, want +%v", at, tt.want)
			}
		})
	}
}

// TestFailedCallLeavesItsSlotForTheRetry: a call that fails with a server error and
// uses nothing leaves its slot as a spare; its retry (the same invocation's next call,
// or a redelivered item marked by pipeline.WithRetry) starts at once on it instead of
// queueing behind the slots booked since. A rate limit, an overload or an expired
// spare leaves none.
func TestFailedCallLeavesItsSlotForTheRetry(t *testing.T) {
	serverError := func(status int) error {
		return &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: status, Message: "The server had an error"}
	}
	tests := []struct {
		name      string
		err       error
		later     time.Duration // between the failure and the retry
		redeliv   bool          // the retry comes from another invocation, marked as a retry
		wantSpare bool          // the retry takes the spare (and so starts at once)
		wantReqs  int           // its DynamoDB requests (without the settlement)
	}{
		{"500, same invocation", serverError(500), time.Second, false, true, 1},
		{"500, redelivered elsewhere", serverError(500), 5 * time.Second, true, true, 1},
		{"500, spare expired", serverError(500), 31 * time.Second, true, false, 2}, // a refused claim, then a booking
		{"503 overload", serverError(503), time.Second, false, false, 1},
		{"429", rateLimited(0), time.Second, false, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := retrytest.NewClock(t0)
			tab := newMemTable()
			// RPM 6: a slot every 10.2 s; nothing is slept for beyond 1 s.
			cfg := Config{RPM: 6, Clock: clock, MaxWait: time.Second}
			a, other := New(tab, key, cfg), New(tab, key, cfg)
			ctx := context.Background()
			call(t, a, clock, ctx, 10, examina.Response{}, tt.err)
			var de *pipeline.DeferError
			if _, err := other.Reserve(ctx, 10); !errors.As(err, &de) || de.Slot == "" || other.Stats().Reused != 0 {
				t.Fatalf("another call = %v (spares taken %d), want a booked deferral to +10.2s, the spare left to the retry", err, other.Stats().Reused)
			}
			clock.Advance(tt.later)
			retrier, rctx := a, ctx
			if tt.redeliv {
				retrier, rctx = New(tab, key, cfg), pipeline.WithRetry(ctx)
			}
			before := retrier.Stats().Requests
			settle, err := retrier.Reserve(rctx, 10)
			if got := retrier.Stats().Reused == 1; got != tt.wantSpare {
				t.Fatalf("retry took a spare: %v, want %v", got, tt.wantSpare)
			}
			if started := err == nil; tt.later < 10*time.Second && started != tt.wantSpare {
				t.Fatalf("retry Reserve = %v, want started at once %v", err, tt.wantSpare)
			}
			if n := retrier.Stats().Requests - before; n != tt.wantReqs {
				t.Errorf("the retry made %d DynamoDB requests, want %d", n, tt.wantReqs)
			}
			if err == nil {
				settle(ok(5, 5), nil)
				if st, _ := tab.Get(ctx, key); tt.wantSpare && st.Spares != 0 || len(st.Leases) != 0 {
					t.Fatalf("after the retry: spares %d, leases %v", st.Spares, st.Leases)
				}
			}
		})
	}
}

// TestLearningHerdSpreads: while the horizon is still short (nothing learned), the
// callers deferred beyond it come back spread over the whole backlog, not its last
// second, so that when they return the grown horizon books them.
func TestLearningHerdSpreads(t *testing.T) {
	clock := retrytest.NewClock(t0)
	g := New(newMemTable(), key, Config{RPM: 60, TPM: 36000, Clock: clock, MaxWait: time.Second})
	ctx := context.Background()
	var waits []time.Duration
	for range 40 {
		_, err := g.Reserve(ctx, 2000) // 3.4 s of tokens each at the estimate
		var de *pipeline.DeferError
		if errors.As(err, &de) && de.Slot == "" {
			waits = append(waits, de.Wait)
		}
	}
	if len(waits) < 35 {
		t.Fatalf("%d unbooked deferrals, want most of 40 (horizon 2 s before anything is learned)", len(waits))
	}
	slices.Sort(waits)
	// Backlog 3.4 s (the first call's tokens): back between 2.4 s and 9.2 s.
	if lo, hi := waits[0], waits[len(waits)-1]; lo < 2*time.Second || hi > 9300*time.Millisecond || hi-lo < 3*time.Second {
		t.Fatalf("unbooked waits %v .. %v, want spread over about 2.4-9.2 s", lo, hi)
	}
}
