// Package fleetgate is the fleet-wide rate-limit budget of the cloud path: one item
// in DynamoDB per provider, model and API key, shared by every analyze invocation of
// a deployment, so BatchSize concurrent functions behave as one client of the
// provider. It implements pipeline.Gate and pipeline.Reserver.
//
// The budget is two GCRA timelines (requests and tokens: the instant the budget is
// booked up to, in Unix milliseconds), a fleet-wide pause ordered by the provider,
// and an adaptive limit of calls in flight (leases with an expiry, halved on
// 429/529/503, raised by one after a streak of successes, never above
// MaxConcurrency). A call books its slot by advancing both timelines with one
// conditional UpdateItem (ADD, so concurrent bookings never conflict while the budget
// is busy), and is settled with one more (its lease removed, the tokens it did not
// use credited back to the token timeline). Requests are spread evenly: one every
// Per/RPM, never a minute's budget at once. A slot further away than MaxWait is
// booked and returned as a *pipeline.DeferError carrying it, for the caller to come
// back when it is due (pipeline.WithSlot); nothing sleeps longer than MaxWait.
package fleetgate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// Config configures a Gate. Zero limits mean unlimited.
type Config struct {
	// RPM and TPM are the requests and tokens allowed per Per for the key.
	RPM, TPM int
	// Per is the span of RPM and TPM (default one minute; benchmarks scale it down).
	Per time.Duration
	// Headroom slows the pace by this fraction, for clock and network skew between
	// invocations and the provider (default 0.02).
	Headroom float64
	// MaxConcurrency bounds the fleet's calls in flight; the adaptive limit never
	// exceeds it (default 10: BatchSize).
	MaxConcurrency int
	// MaxWait is the longest a caller sleeps for its slot; a later slot is deferred
	// (default 3s).
	MaxWait time.Duration
	// Horizon is the furthest ahead a slot is booked (default 14 minutes: a deferred
	// message comes back by SQS's longest delay, 15 minutes). While the budget has
	// not learned its calls' usage it books less far (Gate.horizon). A caller whose
	// slot would lie further is deferred without booking, to come back when the
	// booked backlog has shrunk.
	Horizon time.Duration
	// MaxHold bounds a pause ordered by the provider (default two minutes).
	MaxHold time.Duration
	// LeaseTTL is how long a call's lease counts against the concurrency limit if it
	// is never settled (an invocation killed mid-call) (default 3 minutes).
	LeaseTTL time.Duration
	// ItemTTL is how long an idle budget item is kept (default one day).
	ItemTTL time.Duration
	// SpareTTL is how long a slot booked by a call that failed without using it
	// (a 5xx) is kept for a retry (default 30s: a redelivery's longest backoff).
	SpareTTL time.Duration
	// Clock tells the time and sleeps (nil: the wall clock).
	Clock retry.Clock
}

// Key is the budget item's partition key for provider, model and API key (the key
// enters only as a short hash, never itself).
func Key(provider, model, apiKey string) string {
	id := "nokey"
	if apiKey != "" {
		sum := sha256.Sum256([]byte(apiKey))
		id = hex.EncodeToString(sum[:6])
	}
	return "BUDGET#" + provider + "#" + model + "#" + id
}

// Stats counts what a Gate did, and the DynamoDB requests it made.
type Stats struct {
	Calls       int           // calls admitted (booked now or with a slot due)
	Deferred    int           // calls deferred (booked slots and unbooked)
	Unbooked    int           // deferred without a booking: beyond the horizon
	Requests    int           // DynamoDB requests
	Conflicts   int           // conditional writes that failed and were redone
	PastHorizon int           // of them: bookings refused because the budget was booked past the horizon
	Waited      time.Duration // time slept for slots
	RateLimited int           // settled calls with a rate-limited error
	Credited    int           // reserved tokens given back
	Spared      int           // slots left as spares by calls that failed without using them
	Reused      int           // spares taken by retries
}

// Gate is a fleet-wide budget. It is safe for concurrent use.
type Gate struct {
	cfg   Config
	table Table
	key   string
	clock retry.Clock
	ir    float64 // ms per request (0: unlimited)
	it    float64 // ms per token (0: unlimited)

	mu       sync.Mutex
	state    State // last seen, to predict the next booking
	known    bool
	taken    map[string]bool // slots from pipeline.SlotFrom already used: a slot serves one call
	ownSpare int64           // until when the spare this gate's last failed call left is kept (0: none)
	stats    Stats
}

// New returns the gate of the budget item key in table.
func New(table Table, key string, cfg Config) *Gate {
	if cfg.Per <= 0 {
		cfg.Per = time.Minute
	}
	if cfg.Headroom <= 0 {
		cfg.Headroom = 0.02
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 10
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 3 * time.Second
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = 2 * time.Minute
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = 14 * time.Minute
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Minute
	}
	if cfg.ItemTTL <= 0 {
		cfg.ItemTTL = 24 * time.Hour
	}
	if cfg.SpareTTL <= 0 {
		cfg.SpareTTL = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = retry.RealClock{}
	}
	g := &Gate{cfg: cfg, table: table, key: key, clock: cfg.Clock}
	per := float64(cfg.Per.Milliseconds()) * (1 + cfg.Headroom)
	if cfg.RPM > 0 {
		g.ir = per / float64(cfg.RPM)
	}
	if cfg.TPM > 0 {
		g.it = per / float64(cfg.TPM)
	}
	return g
}

// Stats returns what the gate has done so far.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Acquire implements pipeline.Gate; Release ends the call without settling its
// tokens. Prefer Reserve.
func (g *Gate) Acquire(ctx context.Context, tokens int) error {
	_, err := g.Reserve(ctx, tokens)
	return err
}

// Release implements pipeline.Gate for calls started by Acquire: it records the
// outcome without a lease or a token settlement.
func (g *Gate) Release(resp examina.Response, err error) {
	g.settle(context.Background(), booking{}, resp, err)
}

// booking is a call's slot: when, what it booked, and under which adaptive
// generation.
type booking struct {
	At       int64 // Unix ms
	Tokens   int   // tokens booked on the token timeline
	Estimate int   // the caller's estimate
	Gen      int64
	Lease    string // "" when the call holds no lease
}

func (b booking) encode() string {
	return fmt.Sprintf("v1:%d:%d:%d:%d", b.At, b.Tokens, b.Estimate, b.Gen)
}

func decodeBooking(s string) (booking, error) {
	p := strings.Split(s, ":")
	if len(p) != 5 || p[0] != "v1" {
		return booking{}, fmt.Errorf("fleetgate: malformed slot %q", s)
	}
	var n [4]int64
	for i := range n {
		v, err := strconv.ParseInt(p[i+1], 10, 64)
		if err != nil || v < 0 {
			return booking{}, fmt.Errorf("fleetgate: malformed slot %q", s)
		}
		n[i] = v
	}
	return booking{At: n[0], Tokens: int(n[1]), Estimate: int(n[2]), Gen: n[3]}, nil
}

// Reserve books a slot for a call of about tokens tokens (or takes the slot an earlier
// try booked, from pipeline.SlotFrom(ctx)), sleeps until it when that is at most
// MaxWait away, and returns the function that settles the call. A slot further away
// comes back as a *pipeline.DeferError carrying it.
func (g *Gate) Reserve(ctx context.Context, tokens int) (func(examina.Response, error), error) {
	var b booking
	if s := pipeline.SlotFrom(ctx); s != "" && g.take(s) {
		var err error
		if b, err = decodeBooking(s); err != nil {
			return nil, err
		}
		b.Estimate = tokens
		// A pause the provider ordered after the slot was booked holds it back: the
		// slot is booked again after the pause.
		g.mu.Lock()
		hold := g.state.Hold
		g.mu.Unlock()
		if hold > b.At && hold > ms(g.clock.Now()) {
			b = booking{}
		}
	}
	if b.At == 0 && g.spareFor(ctx) {
		b = g.claimSpare(ctx, tokens)
	}
	if b.At == 0 {
		var err error
		if b, err = g.book(ctx, tokens); err != nil {
			var de *pipeline.DeferError
			if ctx.Err() != nil || errors.As(err, &de) {
				return nil, err
			}
			// The budget failing (throttled, too contended) never fails the exercise:
			// it is tried again shortly.
			g.mu.Lock()
			g.stats.Deferred++
			g.mu.Unlock()
			return nil, &pipeline.DeferError{Wait: time.Second + time.Duration(mrand.Int64N(int64(time.Second))), Reason: "fleet budget unavailable: " + err.Error()}
		}
	}
	now := ms(g.clock.Now())
	if wait := time.Duration(b.At-now) * time.Millisecond; wait > g.cfg.MaxWait {
		if b.Lease != "" {
			g.request(ctx, func() error { return g.table.RemoveLease(ctx, g.key, b.Lease) })
		}
		g.mu.Lock()
		g.stats.Deferred++
		g.mu.Unlock()
		b.Lease = ""
		return nil, &pipeline.DeferError{Wait: wait, Reason: "fleet rate-limit budget: slot booked", Slot: b.encode()}
	} else if wait > 0 {
		if err := g.clock.Sleep(ctx, wait); err != nil {
			if b.Lease != "" {
				g.request(context.WithoutCancel(ctx), func() error { return g.table.RemoveLease(context.WithoutCancel(ctx), g.key, b.Lease) })
			}
			return nil, err
		}
		g.mu.Lock()
		g.stats.Waited += wait
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.stats.Calls++
	g.mu.Unlock()
	return func(resp examina.Response, err error) { g.settle(context.WithoutCancel(ctx), b, resp, err) }, nil
}

// take reports whether slot is still unused by this gate, and marks it used: the
// retries of a call that came back with a slot book slots of their own.
func (g *Gate) take(slot string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.taken[slot] {
		return false
	}
	if g.taken == nil || len(g.taken) > 10000 {
		g.taken = map[string]bool{}
	}
	g.taken[slot] = true
	return true
}

// spareFor reports whether a call should first try to take a spare slot: it is the
// retry of a redelivered or deferred item (pipeline.IsRetry), or this gate's own call
// just left one (in a Lambda instance, which handles one message at a time, its next
// call is that call's retry). Other calls leave spares to retries.
func (g *Gate) spareFor(ctx context.Context) bool {
	if pipeline.IsRetry(ctx) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ownSpare >= ms(g.clock.Now()) // 0 when none is kept
}

// claimSpare takes a spare slot: the call starts now, on budget a failed call booked
// and did not use, instead of queueing behind every slot booked since. A zero
// booking when none is left.
func (g *Gate) claimSpare(ctx context.Context, tokens int) booking {
	now := ms(g.clock.Now())
	g.mu.Lock()
	seen, known := g.state, g.known
	g.mu.Unlock()
	clim := int64(g.cfg.MaxConcurrency)
	if known && seen.Exists {
		clim = seen.Clim
	}
	op := ClaimSpare{Now: now, Clim: clim, Lease: newLease(), LeaseExp: now + g.cfg.LeaseTTL.Milliseconds()}
	var old State
	var ok bool
	if err := g.request(ctx, func() (err error) { old, ok, err = g.table.ClaimSpare(ctx, g.key, op); return err }); err != nil {
		return booking{}
	}
	if !ok {
		g.remember(old)
		return booking{}
	}
	old.Spares--
	g.remember(old)
	g.mu.Lock()
	g.stats.Reused++
	g.ownSpare = 0
	g.mu.Unlock()
	return booking{At: now, Tokens: cost(tokens, old), Estimate: tokens, Gen: old.Gen, Lease: op.Lease}
}

// spare reports whether a failed call left its slot unused: a server error that is
// not an overload or a rate limit, with no usage reported.
func spare(resp examina.Response, err error) bool {
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Kind != examina.KindTransient || pe.RateLimit || resp.InputTokens+resp.OutputTokens > 0 {
		return false
	}
	return pe.HTTPStatus >= 500 && pe.HTTPStatus != 503 && pe.HTTPStatus != 529
}

// request counts one DynamoDB request.
func (g *Gate) request(_ context.Context, f func() error) error {
	g.mu.Lock()
	g.stats.Requests++
	g.mu.Unlock()
	return f()
}

// settled is how many calls the budget has learned its usage ratio from (items
// written before the count existed: about as many as their estimates add up to).
func settled(estimate int, s State) int64 {
	if s.Settled > 0 || s.Used <= 0 {
		return s.Settled
	}
	return s.Est / int64(max(estimate, 1))
}

// cost is what a call of estimate tokens books on the token timeline: the estimate
// scaled by the fleet's observed ratio of actual to estimated usage, with a margin
// that shrinks as the ratio is learned from more calls (1 + 0.1/sqrt(n): 10% after
// one call, 2% after 25, 1% after 100), never above the estimate. The margin is
// small because it is not the only guard: settling charges a call that used more,
// the provider's headers pause the fleet when its budget runs short, and a 429
// halves the fleet's concurrency and pauses it for the server's Retry-After. A slot booked
// ahead then does not hold budget a typical call never uses; settling corrects the
// timeline either way.
func cost(estimate int, s State) int {
	n := settled(estimate, s)
	if n <= 0 || s.Used <= 0 || s.Est <= 0 {
		return estimate // nothing learned yet
	}
	m := 1 + 0.1/math.Sqrt(float64(n))
	r := min(1.0, m*float64(s.Used)/float64(s.Est))
	return max(1, int(float64(estimate)*max(r, 0.05)+0.5))
}

// horizon is how far ahead a slot may be booked. Booking ahead costs nothing when
// the call's cost is known: only the request limit applies (no token limit), or the
// usage ratio is learned. While it is not, slots are booked at the estimate, which
// holds budget the calls will not use, so the horizon grows with what the ratio has
// been learned from: two MaxWaits before the first settled call, Per/8 after one,
// Horizon after two: a job's first exercises, deferred together, are all booked when
// they come back a few seconds later. (Growing it as n³·Per/8 instead cost about 40
// refused bookings per 100 calls in the cloud-rate-limited benchmark: invocations
// coming back with a state a second old, the herd having booked past the horizon.)
func (g *Gate) horizon(estimate int, s State) time.Duration {
	if g.it == 0 {
		return g.cfg.Horizon
	}
	switch n := settled(estimate, s); {
	case n >= 2:
		return g.cfg.Horizon
	case n == 1:
		return min(g.cfg.Horizon, max(g.cfg.Per/8, 2*g.cfg.MaxWait))
	}
	return min(g.cfg.Horizon, 2*g.cfg.MaxWait)
}

// book books the next slot: one UpdateItem when the prediction from the last seen
// state holds (the common case under load), one more per conflict.
func (g *Gate) book(ctx context.Context, estimate int) (booking, error) {
	lease := newLease()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return booking{}, err
		}
		now := ms(g.clock.Now())
		g.mu.Lock()
		seen, known := g.state, g.known
		g.mu.Unlock()
		if !known || !seen.Exists {
			seen.Clim = int64(g.cfg.MaxConcurrency) // a new item starts at the maximum
		}
		c := cost(estimate, seen)
		rAdd, tAdd := g.ir, g.it*float64(c)
		// A new invocation knows nothing yet (g.state is zero): it tries the fast path
		// on a guess (a busy budget, the timeline of the larger cost the later one, the
		// limit at its maximum), which a busy fleet's item usually matches; a refusal
		// returns the item, so a wrong guess costs what a read would have, and every
		// later attempt works from what DynamoDB returned.
		blind := !known
		if blind {
			seen.Exists, seen.Rtat, seen.Ttat = true, now, now
			if tAdd > rAdd {
				seen.Ttat++
			}
		}
		var rFloor, tFloor int64 // 0: a limit that is off has no floor
		if g.ir > 0 {
			rFloor = now - int64(g.ir+0.5) - 1
		}
		if g.it > 0 {
			tFloor = now - int64(tAdd+0.5) - 1
		}
		horizon := g.horizon(estimate, seen)
		if known && seen.Exists {
			if ahead := time.Duration(max(seen.Rtat, seen.Ttat, seen.Hold)-now) * time.Millisecond; ahead > horizon {
				return booking{}, g.beyondHorizon(ahead, horizon)
			}
		}
		anchor := seen.Ttat > seen.Rtat // the token timeline is the later one
		if seen.Exists && (anchor || seen.Rtat >= rFloor) && seen.Ttat >= tFloor && seen.Hold <= now && int64(len(seen.Leases)) < seen.Clim {
			// Fast path: both timelines current, no pause: ADD the call's cost
			// (commutative, so concurrent bookings do not conflict).
			// A lease is taken when the slot is predicted to be due within MaxWait.
			at := max(now, seen.Rtat, seen.Ttat)
			withLease := time.Duration(at-now)*time.Millisecond <= g.cfg.MaxWait
			op := FastBook{Anchor: anchor, Rtat: int64(rAdd + 0.5), Ttat: int64(tAdd + 0.5), RFloor: rFloor, TFloor: tFloor, Now: now,
				Ceil: now + horizon.Milliseconds(),
				Clim: seen.Clim, ExpiresAt: g.expiry(now)}
			if withLease {
				op.Lease, op.LeaseExp = lease, now+g.cfg.LeaseTTL.Milliseconds()
			}
			var old State
			var ok bool
			err := g.request(ctx, func() (err error) { old, ok, err = g.table.FastBook(ctx, g.key, op); return err })
			if err != nil {
				return booking{}, fmt.Errorf("fleetgate: booking a slot: %w", err)
			}
			g.remember(old)
			if ok {
				b := booking{At: max(now, old.Rtat, old.Ttat), Tokens: c, Estimate: estimate, Gen: old.Gen}
				if withLease {
					b.Lease = lease
				}
				g.observe(b, op)
				return b, nil
			}
			g.conflict()
			if max(old.Rtat, old.Ttat, old.Hold) > op.Ceil {
				g.mu.Lock()
				g.stats.PastHorizon++
				g.mu.Unlock()
			}
			continue
		}
		// Exact path: computed from the state read, written if it is unchanged.
		live := 0
		var expired []string
		for id, exp := range seen.Leases {
			if exp <= now {
				expired = append(expired, id)
			} else {
				live++
			}
		}
		at := max(now, seen.Rtat, seen.Ttat, seen.Hold)
		due := time.Duration(at-now)*time.Millisecond <= g.cfg.MaxWait
		if due && int64(live) >= seen.Clim {
			// Every lease is taken: wait a little for one within MaxWait, then defer.
			if attempt > 8 {
				return booking{}, &pipeline.DeferError{Wait: g.cfg.MaxWait, Reason: "fleet concurrency limit reached"}
			}
			if err := g.clock.Sleep(ctx, g.cfg.MaxWait/8); err != nil {
				return booking{}, err
			}
			g.refresh(ctx)
			continue
		}
		// The request timeline ends one interval after the slot; the token timeline
		// keeps what it has not used below the slot (bounded by its floor).
		op := CASBook{Old: seen, Rtat: at + int64(rAdd+0.5), Ttat: max(seen.Ttat, now, seen.Hold) + int64(tAdd+0.5),
			Expired: expired, ExpiresAt: g.expiry(now), Clim: seen.Clim}
		if !seen.Exists {
			op.Clim = int64(g.cfg.MaxConcurrency)
		}
		if due {
			op.Lease, op.LeaseExp = lease, now+g.cfg.LeaseTTL.Milliseconds()
		}
		var cur State
		var ok bool
		err := g.request(ctx, func() (err error) { cur, ok, err = g.table.CASBook(ctx, g.key, op); return err })
		if err != nil {
			return booking{}, fmt.Errorf("fleetgate: booking a slot: %w", err)
		}
		if ok {
			b := booking{At: at, Tokens: c, Estimate: estimate, Gen: seen.Gen}
			if due {
				b.Lease = lease
			}
			cur = seen
			cur.Exists, cur.Rtat, cur.Ttat, cur.Clim = true, op.Rtat, op.Ttat, op.Clim
			cur.Leases = map[string]int64{}
			for id, exp := range seen.Leases {
				if exp > now {
					cur.Leases[id] = exp
				}
			}
			if due {
				cur.Leases[lease] = op.LeaseExp
			}
			g.remember(cur)
			return b, nil
		}
		g.remember(cur)
		g.conflict()
		if attempt > 12 {
			return booking{}, errors.New("fleetgate: booking a slot: too many conflicting writes")
		}
	}
}

// beyondHorizon defers a caller without booking: it comes back when the backlog
// ahead of it, now ahead, has shrunk to half the horizon, spread so the callers
// deferred together do not all come back at once.
func (g *Gate) beyondHorizon(ahead, horizon time.Duration) error {
	// Spread over half the horizon, or over twice the backlog while the horizon is
	// still short (a job's first seconds): by then the horizon has grown to cover it.
	spread := horizon / 2
	if horizon < g.cfg.Horizon {
		spread = max(spread, 2*ahead)
	}
	d := ahead - horizon/2 + time.Duration(mrand.Float64()*float64(spread))
	g.mu.Lock()
	g.stats.Deferred++
	g.stats.Unbooked++
	g.mu.Unlock()
	return &pipeline.DeferError{Wait: max(d, time.Second), Reason: "fleet rate-limit budget booked beyond the horizon"}
}

func (g *Gate) conflict() {
	g.mu.Lock()
	g.stats.Conflicts++
	g.mu.Unlock()
}

// observe updates the remembered state after a fast booking op.
func (g *Gate) observe(b booking, op FastBook) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if op.Anchor {
		g.state.Rtat = g.state.Ttat + op.Rtat
	} else {
		g.state.Rtat += op.Rtat
	}
	g.state.Ttat += op.Ttat
	if b.Lease != "" {
		l := make(map[string]int64, len(g.state.Leases)+1)
		for k, v := range g.state.Leases {
			l[k] = v
		}
		l[b.Lease] = b.At + g.cfg.LeaseTTL.Milliseconds()
		g.state.Leases = l
	}
}

func (g *Gate) remember(s State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state, g.known = s, true
}

func (g *Gate) refresh(ctx context.Context) {
	var s State
	if err := g.request(ctx, func() (err error) { s, err = g.table.Get(ctx, g.key); return err }); err == nil {
		g.remember(s)
	}
}

func (g *Gate) expiry(now int64) int64 {
	return (now + g.cfg.ItemTTL.Milliseconds()) / 1000
}

// settle ends a call: one UpdateItem (lease removed, tokens settled with the actual
// usage, the success streak counted), and only when the outcome calls for it one more
// each for a halving on a rate-limited error, a raise after a streak, or a pause the
// provider ordered.
func (g *Gate) settle(ctx context.Context, b booking, resp examina.Response, err error) {
	now := ms(g.clock.Now())
	var pe *examina.ProviderError
	limited := errors.As(err, &pe) && pe.RateLimit && pe.Kind == examina.KindTransient
	op := Settle{Lease: b.Lease}
	if used := resp.InputTokens + resp.OutputTokens; used > 0 && b.Tokens > 0 && g.it > 0 {
		op.TtatDelta = int64(float64(used-b.Tokens)*g.it + 0.5)
		op.Used, op.Est, op.Settled = int64(used), int64(max(b.Estimate, b.Tokens)), 1
		if used < b.Tokens {
			g.mu.Lock()
			g.stats.Credited += b.Tokens - used
			g.mu.Unlock()
		}
	}
	if err == nil {
		op.Streak = 1
	}
	if b.At > 0 && spare(resp, err) {
		op.SpareUntil = now + g.cfg.SpareTTL.Milliseconds()
		g.mu.Lock()
		g.stats.Spared++
		g.ownSpare = op.SpareUntil
		g.mu.Unlock()
	}
	var cur State
	if e := g.request(ctx, func() (e error) { cur, e = g.table.Settle(ctx, g.key, op); return e }); e != nil {
		return // the lease expires by itself; the budget errs on the safe side
	}
	g.remember(cur)
	switch {
	case limited:
		g.mu.Lock()
		g.stats.RateLimited++
		g.mu.Unlock()
		if cur.Gen == b.Gen || b.At == 0 {
			half := max(1, cur.Clim/2)
			g.setLimit(ctx, cur, half, true)
		}
		if pe.RetryAfter > 0 {
			g.hold(ctx, now, pe.RetryAfter, cur)
		}
	case err == nil && cur.Streak >= cur.Clim && cur.Clim < int64(g.cfg.MaxConcurrency):
		g.setLimit(ctx, cur, cur.Clim+1, false)
	}
	if rl := resp.RateLimit; rl != nil {
		if rl.RemainingRequests == 0 && rl.ResetRequests > 0 {
			g.hold(ctx, now, rl.ResetRequests, cur)
		}
		if rl.RemainingTokens >= 0 && rl.RemainingTokens < cost(b.Estimate, cur) && rl.ResetTokens > 0 {
			g.hold(ctx, now, rl.ResetTokens, cur)
		}
	}
}

// setLimit moves the adaptive limit from cur's to to (bump: a halving, which starts a
// new generation) and remembers the result, so the next booking's condition holds.
func (g *Gate) setLimit(ctx context.Context, cur State, to int64, bump bool) {
	var ok bool
	if err := g.request(ctx, func() (e error) { ok, e = g.table.SetLimit(ctx, g.key, cur.Gen, cur.Clim, to, bump); return e }); err != nil || !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state.Gen == cur.Gen {
		g.state.Clim, g.state.Streak = to, 0
		if bump {
			g.state.Gen++
		}
	}
}

// hold pauses the fleet until now+d (at most MaxHold), unless a later pause is known.
func (g *Gate) hold(ctx context.Context, now int64, d time.Duration, cur State) {
	until := now + min(d, g.cfg.MaxHold).Milliseconds()
	if cur.Hold >= until {
		return
	}
	g.request(ctx, func() error { return g.table.Hold(ctx, g.key, until) })
	g.mu.Lock()
	g.state.Hold = max(g.state.Hold, until)
	g.mu.Unlock()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func newLease() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
