// Package ratelimit paces provider calls: client-side limits of requests and tokens per
// minute for one provider and model, shared by every worker of the process, and an
// adaptive (AIMD) limit of calls in flight that halves on 429/529/503 and grows back
// after a window of successes. A Gate combines them and implements pipeline.Gate and
// pipeline.Reserver (tokens reserved by estimate are settled with the call's actual
// usage); a Registry hands out one Gate per provider and model.
package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// Config configures a Gate. Zero limits mean unlimited.
type Config struct {
	// RPM is the number of requests allowed per Per.
	RPM int
	// TPM is the number of tokens allowed per Per; a request costs the estimate passed
	// to Acquire (its prompt plus its output budget).
	TPM int
	// Per is the span of RPM and TPM (default one minute; tests and benchmarks scale
	// it down).
	Per time.Duration
	// Intervals spreads requests: RPM is also enforced over Per/Intervals, as
	// ceil(RPM/Intervals) requests per interval, so a minute's budget is not sent in
	// one burst (providers quantise per-minute limits over shorter intervals). 0 or 1:
	// the whole-window limit only.
	Intervals int
	// Slack is added to every window expiry to absorb clock and network skew between
	// this process and the server (default Per/100).
	Slack time.Duration
	// MaxConcurrency bounds the calls in flight; the adaptive limit never exceeds it
	// (default 10, the batch size).
	MaxConcurrency int
	// InitialConcurrency is the adaptive limit's starting value (default
	// MaxConcurrency).
	InitialConcurrency int
	// MaxHold bounds a pause ordered by the server (Retry-After on a 429, or headers
	// announcing an exhausted budget) (default two minutes). Longer pauses are cut to
	// it: the call then fails with the server's wait and the retry layer decides.
	MaxHold time.Duration
	// Clock tells the time and waits (nil: the wall clock).
	Clock retry.Clock
}

// Stats is what a Gate has done so far.
type Stats struct {
	Acquired       int           // successful Acquires
	Waited         time.Duration // total time Acquires slept for rate-limit budget
	RateLimited    int           // releases with a rate-limited error
	Held           int           // pauses ordered by the server
	Credited       int           // reserved tokens given back by settled calls
	Limit          int           // current concurrency limit
	LowestLimit    int           // lowest concurrency limit reached
	Decreases      int           // times the limit was halved
	Increases      int           // times the limit was raised
	MaxConcurrency int
}

// Gate bounds and paces the calls to one provider and model. It is safe for concurrent
// use. Every successful Acquire must be followed by exactly one Release.
type Gate struct {
	clock   retry.Clock
	maxHold time.Duration

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever a slot may have freed
	inflight   int
	conc       aimd
	requests   window
	spread     window // requests over Per/Intervals
	tokens     window
	last       time.Time // latest reservation: reservations are FIFO
	hold       time.Time // no call starts before this
	lastTokens int       // estimate of the latest Acquire
	used, est  int       // actual and estimated tokens of settled calls
	settled    int
	stats      Stats
}

// slot is one reservation: its start and its entries in the windows.
type slot struct {
	at                time.Time
	tokens            int
	req, spread, toks uint64
}

// NewGate returns a Gate for cfg.
func NewGate(cfg Config) *Gate {
	if cfg.Per <= 0 {
		cfg.Per = time.Minute
	}
	if cfg.Slack <= 0 {
		cfg.Slack = cfg.Per / 100
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 10
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = 2 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = retry.RealClock{}
	}
	g := &Gate{
		clock:    cfg.Clock,
		maxHold:  cfg.MaxHold,
		changed:  make(chan struct{}),
		conc:     newAIMD(cfg.InitialConcurrency, cfg.MaxConcurrency),
		requests: window{limit: cfg.RPM, per: cfg.Per, slack: cfg.Slack},
		tokens:   window{limit: cfg.TPM, per: cfg.Per, slack: cfg.Slack},
	}
	if k := cfg.Intervals; k > 1 && cfg.RPM > 0 {
		g.spread = window{limit: (cfg.RPM + k - 1) / k, per: cfg.Per / time.Duration(k), slack: cfg.Slack / time.Duration(k)}
	}
	g.stats.MaxConcurrency = cfg.MaxConcurrency
	return g
}

// Acquire blocks until a call of about tokens tokens may start: a slot under the
// adaptive concurrency limit, room in the request and token windows, and no pause
// ordered by the server. It returns ctx's error if ctx ends first (and then needs no
// Release).
func (g *Gate) Acquire(ctx context.Context, tokens int) error {
	_, err := g.acquire(ctx, tokens, false)
	return err
}

// Reserve is Acquire for a call settled on its own: the returned function ends the
// call in place of Release, and gives back the tokens the response shows it did not
// use (the estimate's unused output budget), so they are not withheld from later calls
// for a whole window.
func (g *Gate) Reserve(ctx context.Context, tokens int) (func(examina.Response, error), error) {
	s, err := g.acquire(ctx, tokens, true)
	if err != nil {
		return nil, err
	}
	return func(resp examina.Response, err error) {
		g.mu.Lock()
		if used := resp.InputTokens + resp.OutputTokens; used > 0 {
			g.tokens.settle(s.toks, used)
			if used < s.tokens {
				g.stats.Credited += s.tokens - used
			}
			g.used, g.est, g.settled = g.used+used, g.est+tokens, g.settled+1
		}
		g.mu.Unlock()
		g.Release(resp, err)
	}, nil
}

// cost is the tokens Reserve books for a call estimated at estimate: the estimate
// until five calls are settled, then the estimate scaled by the observed ratio of
// actual to estimated usage with a 15% margin (never above the estimate, never below
// a fifth of it), so a call's unused output budget is not withheld from the calls
// waiting beside it; settling books the actual usage either way. Called with g.mu
// held.
func (g *Gate) cost(estimate int) int {
	if g.settled < 5 || g.est <= 0 {
		return estimate
	}
	r := min(1.0, 1.15*float64(g.used)/float64(g.est))
	return max(1, int(float64(estimate)*max(r, 0.2)+0.5))
}

// acquire waits for a slot and books it; a settled call books cost(estimate), its
// expected usage, recomputed at every check.
func (g *Gate) acquire(ctx context.Context, estimate int, settled bool) (slot, error) {
	g.mu.Lock()
	for g.inflight >= g.conc.limit {
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return slot{}, ctx.Err()
		}
		g.mu.Lock()
	}
	g.inflight++
	// Budget is booked only at the instant it is used, never ahead: a caller waits
	// for the earliest instant its call fits, woken early whenever a call ends (it may
	// have given tokens back, or the server may have ordered a pause), and checks
	// again. So tokens given back serve the callers already waiting, and a pause
	// ordered while they sleep holds them too.
	for {
		now := g.clock.Now()
		tokens := estimate
		if settled {
			tokens = g.cost(estimate)
		}
		t := g.earliest(now, tokens)
		if !t.After(now) {
			s := g.reserve(now, tokens)
			g.stats.Acquired++
			g.mu.Unlock()
			return s, nil
		}
		ch := g.changed
		g.mu.Unlock()
		err := g.sleep(ctx, t.Sub(now), ch)
		g.mu.Lock()
		g.stats.Waited += g.clock.Now().Sub(now)
		if err != nil {
			g.inflight--
			g.signal()
			g.mu.Unlock()
			return slot{}, err
		}
	}
}

// sleep waits d, or until changed is closed; it fails only when ctx ends.
func (g *Gate) sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := g.clock.Sleep(sctx, d); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// earliest is the first instant at or after now when a call of n tokens fits every
// window and no pause holds it. Called with g.mu held.
func (g *Gate) earliest(now time.Time, n int) time.Time {
	g.requests.prune(now)
	g.spread.prune(now)
	g.tokens.prune(now)
	t := now
	for _, c := range []time.Time{g.last, g.hold} {
		if c.After(t) {
			t = c
		}
	}
	// Each window's earliest instant is monotonic in t: iterate until all agree
	// (entries only expire as t grows, so this settles within a few rounds).
	for range 16 {
		next := t
		if r := g.requests.earliest(t, 1); r.After(next) {
			next = r
		}
		if r := g.spread.earliest(t, 1); r.After(next) {
			next = r
		}
		if k := g.tokens.earliest(t, n); k.After(next) {
			next = k
		}
		if next.Equal(t) {
			break
		}
		t = next
	}
	return t
}

// reserve books a call of n tokens at t (earliest(t, n) == t). Called with g.mu held.
func (g *Gate) reserve(t time.Time, n int) slot {
	s := slot{at: t, tokens: n, req: g.requests.add(t, 1), spread: g.spread.add(t, 1), toks: g.tokens.add(t, n)}
	g.last = t
	g.lastTokens = n
	return s
}

// Release records the outcome of a call started by Acquire: a rate-limited error
// (ProviderError.RateLimit: 429, 529, 503) halves the concurrency limit and pauses
// new calls for the server's Retry-After; a success counts towards raising the limit;
// a response announcing an exhausted request budget (remaining 0) or fewer tokens left
// than the last request's estimate pauses new calls until the announced reset.
func (g *Gate) Release(resp examina.Response, err error) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight = max(g.inflight-1, 0)
	var pe *examina.ProviderError
	limited := errors.As(err, &pe) && pe.RateLimit && pe.Kind == examina.KindTransient
	if limited {
		g.stats.RateLimited++
		if pe.RetryAfter > 0 {
			g.pause(now, pe.RetryAfter)
		}
	}
	g.conc.outcome(limited, err == nil, g.inflight)
	if rl := resp.RateLimit; rl != nil {
		if rl.RemainingRequests == 0 && rl.ResetRequests > 0 {
			g.pause(now, rl.ResetRequests)
		}
		if rl.RemainingTokens >= 0 && rl.RemainingTokens < g.lastTokens && rl.ResetTokens > 0 {
			g.pause(now, rl.ResetTokens)
		}
	}
	g.signal()
}

// pause holds new calls until now+d (at most MaxHold). Called with g.mu held.
func (g *Gate) pause(now time.Time, d time.Duration) {
	until := now.Add(min(d, g.maxHold))
	if until.After(g.hold) {
		g.hold = until
		g.stats.Held++
	}
}

// signal wakes Acquires waiting for a slot. Called with g.mu held.
func (g *Gate) signal() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// Limit returns the current adaptive concurrency limit.
func (g *Gate) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conc.limit
}

// Stats returns what the gate has done so far.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats
	s.Limit, s.LowestLimit = g.conc.limit, g.conc.lowest
	s.Decreases, s.Increases = g.conc.decreases, g.conc.increases
	return s
}

// Registry hands out one Gate per provider and model, so every worker of a process
// calling the same model shares its limits. The zero value is ready to use.
type Registry struct {
	mu    sync.Mutex
	gates map[string]*Gate
}

// Gate returns the gate of provider and model, creating it with cfg the first time; later
// calls return the same gate and ignore cfg.
func (r *Registry) Gate(provider, model string, cfg Config) *Gate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gates == nil {
		r.gates = map[string]*Gate{}
	}
	k := provider + "\x00" + model
	g, ok := r.gates[k]
	if !ok {
		g = NewGate(cfg)
		r.gates[k] = g
	}
	return g
}
