// Package simulated is a fake LLM provider for tests and benchmarks. It answers with
// the offline heuristic's analysis after a simulated latency (fixed, uniform or
// log-normal) and injects failures (429, 5xx, 529, timeouts, garbage and truncated
// output, 401) at a configured rate.
//
// Every random choice is a pure function of (Seed, exercise id, call number for that
// exercise), never of a shared random source, so a run gives the same latencies,
// failures and answers whatever the scheduling order. Counters (Calls, InFlight,
// MaxInFlight) let tests prove a scheduler's concurrency bound.
package simulated

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// ProviderName is the name the simulated provider reports.
const ProviderName = "simulated"

// DefaultModel is the model reported when Config.Model is empty.
const DefaultModel = "simulated-v1"

// Latency distributions accepted in Config.Dist.
const (
	DistUniform   = "uniform"   // Latency + U[0, Jitter]; the default
	DistLognormal = "lognormal" // log-normal with the given Median and P99
	DistFixed     = "fixed"     // exactly Latency
)

// Failure kinds accepted in Config.Failures.
const (
	Fail429       = "429"       // rate limited, with Retry-After
	Fail500       = "500"       // internal server error
	Fail503       = "503"       // service unavailable (load shedding)
	Fail529       = "529"       // overloaded (Anthropic)
	FailTimeout   = "timeout"   // no answer until ctx is done or 30 s
	FailGarbage   = "garbage"   // a successful response whose text is not JSON
	FailTruncated = "truncated" // the output hit the token budget
	Fail401       = "401"       // bad API key: permanent
)

// FailureKinds returns every failure kind, in a stable order.
func FailureKinds() []string {
	return []string{Fail429, Fail500, Fail503, Fail529, FailTimeout, FailGarbage, FailTruncated, Fail401}
}

// DefaultFailures returns the kinds drawn when Config.Failures is empty: the transient
// HTTP failures a real provider returns under load.
func DefaultFailures() []string {
	return []string{Fail429, Fail500, Fail503, Fail529}
}

// TimeoutAfter is how long a "timeout" failure waits before giving up when ctx has no
// earlier deadline.
const TimeoutAfter = 30 * time.Second

// z99 is the 99th percentile of the standard normal distribution.
const z99 = 2.3263478740408408

// Config configures a simulated provider. The zero value answers instantly and never
// fails.
type Config struct {
	// Latency is the fixed latency ("fixed") or the minimum latency ("uniform").
	Latency time.Duration
	// Jitter is the width of the uniform latency added to Latency ("uniform").
	Jitter time.Duration
	// Dist is the latency distribution: "uniform" (default when empty), "lognormal"
	// or "fixed".
	Dist string
	// Median and P99 shape the "lognormal" distribution; P99 >= Median > 0.
	Median, P99 time.Duration
	// FailureRate is the probability, in [0, 1], that a call fails.
	FailureRate float64
	// Failures are the kinds a failing call draws from, uniformly; repeat a kind to
	// weight it. Empty means DefaultFailures().
	Failures []string
	// RetryAfter is sent with 429 failures (0: none).
	RetryAfter time.Duration
	// Seed makes different runs draw differently.
	Seed int64
	// Model is the reported model name (DefaultModel when empty).
	Model string
	// Sleep waits for d or until ctx is done, returning ctx.Err() in that case. Nil
	// means a real timer. Tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Validate reports the first problem of c as an examina KindInvalid error.
func (c Config) Validate() error {
	const op = "simulated.Config"
	if c.Latency < 0 || c.Jitter < 0 || c.Median < 0 || c.P99 < 0 || c.RetryAfter < 0 {
		return examina.E(op, examina.KindInvalid, "durations must not be negative")
	}
	dist, err := ParseDist(c.Dist)
	if err != nil {
		return err
	}
	if dist == DistLognormal && (c.Median <= 0 || c.P99 < c.Median) {
		return examina.E(op, examina.KindInvalid, "lognormal needs 0 < median <= p99 (median %v, p99 %v)", c.Median, c.P99)
	}
	if math.IsNaN(c.FailureRate) || c.FailureRate < 0 || c.FailureRate > 1 {
		return examina.E(op, examina.KindInvalid, "failure rate %v is outside [0, 1]", c.FailureRate)
	}
	for _, f := range c.Failures {
		if !knownFailure(f) {
			return examina.E(op, examina.KindInvalid, "unknown failure kind %q (want one of %s)", f, strings.Join(FailureKinds(), ", "))
		}
	}
	return nil
}

// ParseDist normalizes a distribution name from a flag: "" and "uniform" give
// "uniform"; "lognormal" (or "log-normal") and "fixed" are accepted in any case.
// Anything else is a KindInvalid error.
func ParseDist(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", DistUniform:
		return DistUniform, nil
	case DistLognormal, "log-normal":
		return DistLognormal, nil
	case DistFixed:
		return DistFixed, nil
	}
	return "", examina.E("simulated.ParseDist", examina.KindInvalid, "unknown latency distribution %q (want uniform, lognormal or fixed)", s)
}

// ParseFailures parses a comma-separated list of failure kinds from a flag, e.g.
// "429,503,timeout". Blank entries are skipped, case is ignored and repeats are kept
// (they weight the draw). An empty list gives nil; an unknown kind is a KindInvalid
// error.
func ParseFailures(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !knownFailure(f) {
			return nil, examina.E("simulated.ParseFailures", examina.KindInvalid, "unknown failure kind %q (want one of %s)", f, strings.Join(FailureKinds(), ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

func knownFailure(f string) bool {
	return slices.Contains(FailureKinds(), f)
}

// Provider is a simulated provider, safe for concurrent use.
type Provider struct {
	cfg    Config
	dist   string
	sigma  float64 // lognormal shape
	cfgErr error

	mu    sync.Mutex
	calls map[string]int64 // calls made so far, per exercise id

	answers sync.Map // answer key -> JSON text of the offline analysis

	total, inFlight, maxInFlight atomic.Int64
}

// New returns a simulated provider for cfg. An invalid cfg (see Config.Validate) makes
// every Complete fail with the validation error.
func New(cfg Config) *Provider {
	p := &Provider{cfg: cfg, calls: map[string]int64{}}
	p.cfg.Failures = slices.Clone(cfg.Failures)
	p.cfgErr = cfg.Validate()
	p.dist, _ = ParseDist(cfg.Dist)
	if len(p.cfg.Failures) == 0 {
		p.cfg.Failures = DefaultFailures()
	}
	if p.dist == DistLognormal && cfg.Median > 0 && cfg.P99 >= cfg.Median {
		p.sigma = math.Log(float64(cfg.P99)/float64(cfg.Median)) / z99
	}
	if p.cfg.Sleep == nil {
		p.cfg.Sleep = retry.RealClock{}.Sleep
	}
	return p
}

// Name returns "simulated".
func (p *Provider) Name() string { return ProviderName }

// Model returns Config.Model, or DefaultModel.
func (p *Provider) Model() string {
	if p.cfg.Model != "" {
		return p.cfg.Model
	}
	return DefaultModel
}

// Calls returns how many calls Complete has started.
func (p *Provider) Calls() int64 { return p.total.Load() }

// InFlight returns how many calls are running now.
func (p *Provider) InFlight() int64 { return p.inFlight.Load() }

// MaxInFlight returns the largest number of calls that ran at the same time.
func (p *Provider) MaxInFlight() int64 { return p.maxInFlight.Load() }

// CallsFor returns how many calls were started for the exercise id.
func (p *Provider) CallsFor(exerciseID string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[exerciseID]
}

// Plan is what the simulation decided for one call.
type Plan struct {
	Latency time.Duration // the drawn latency
	Failure string        // the failure kind, "" for a successful call
	Variant int           // which garbage text a "garbage" failure returns
}

// Planned returns the plan of the call-th call (1-based) for exerciseID. It is a pure
// function of the configuration, the exercise id and the call number.
func (p *Provider) Planned(exerciseID string, call int64) Plan {
	var pl Plan
	pl.Latency = p.latency(exerciseID, call)
	if p.cfg.FailureRate > 0 && p.uniform(exerciseID, call, drawFail) < p.cfg.FailureRate {
		i := int(p.uniform(exerciseID, call, drawKind) * float64(len(p.cfg.Failures)))
		pl.Failure = p.cfg.Failures[min(i, len(p.cfg.Failures)-1)]
	}
	pl.Variant = int(p.uniform(exerciseID, call, drawVariant) * float64(len(garbage)))
	pl.Variant = min(pl.Variant, len(garbage)-1)
	return pl
}

// Complete simulates one provider call for req: it waits the planned latency (a tenth
// of it for HTTP errors, which come back fast), then returns the offline heuristic's
// analysis of req.Exercise as JSON, or the planned failure as a *examina.ProviderError:
// 429 (transient, rate limit, RetryAfter), 500 (transient), 503 and 529 (transient,
// rate limit), timeout (transient, after ctx is done or TimeoutAfter), truncated
// (transient, Reason "truncated"), 401 (permanent). A "garbage" failure is a
// successful response whose text is not JSON. If ctx ends during the wait, Complete
// returns promptly with a transient error wrapping ctx.Err(). An invalid Config gives
// its KindInvalid validation error. Calls are numbered per req.Exercise.ID (requests
// without an id share one counter) for the provider's lifetime; use a new Provider per
// run to replay a run exactly.
func (p *Provider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	if p.cfgErr != nil {
		return examina.Response{}, p.cfgErr
	}
	// Every call is counted, even one whose context is already done: it consumes its
	// place in the exercise's call plan, so the plan stays aligned with the attempts
	// the caller records.
	id := req.Exercise.ID
	p.mu.Lock()
	p.calls[id]++
	call := p.calls[id]
	p.mu.Unlock()
	p.total.Add(1)
	if err := ctx.Err(); err != nil {
		return examina.Response{}, offline.ContextError(ProviderName, err)
	}
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxInFlight.Load()
		if n <= m || p.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}

	plan := p.Planned(id, call)
	wait := plan.Latency
	switch plan.Failure {
	case Fail429, Fail500, Fail503, Fail529, Fail401:
		wait /= 10
	case FailTimeout:
		wait = TimeoutAfter
	}
	if err := p.cfg.Sleep(ctx, wait); err != nil {
		return examina.Response{}, offline.ContextError(ProviderName, err)
	}
	if err := failure(plan, p.cfg.RetryAfter); err != nil {
		return examina.Response{}, err
	}

	resp := examina.Response{Model: p.Model(), HTTPStatus: 200, InputTokens: offline.InputTokens(req)}
	if plan.Failure == FailGarbage {
		resp.Text = garbage[plan.Variant]
	} else {
		text, err := p.answer(offline.Language(req.Language, req.Course.Language), req.Exercise.Text, req.Previous)
		if err != nil {
			return examina.Response{}, err
		}
		resp.Text = text
	}
	resp.OutputTokens = offline.EstimateTokens(resp.Text)
	return resp, nil
}

// answer returns the JSON of the offline analysis, memoized: benchmarks and retries ask
// for the same exercises many times.
func (p *Provider) answer(lang, text, previous string) (string, error) {
	key := lang + "\x00" + text + "\x00" + previous
	if v, ok := p.answers.Load(key); ok {
		return v.(string), nil
	}
	b, err := json.Marshal(offline.Analyze(lang, text, previous))
	if err != nil {
		return "", examina.E("simulated.Complete", examina.KindInternal, "marshal analysis: %w", err)
	}
	p.answers.Store(key, string(b))
	return string(b), nil
}

// failure returns the error of a planned failure, or nil for success and garbage.
func failure(plan Plan, retryAfter time.Duration) error {
	pe := &examina.ProviderError{Provider: ProviderName, Kind: examina.KindTransient}
	switch plan.Failure {
	case "", FailGarbage:
		return nil
	case Fail429:
		pe.HTTPStatus, pe.Code, pe.Reason, pe.RateLimit, pe.RetryAfter = 429, "rate_limit_exceeded", "rate_limited", true, retryAfter
		pe.Message = "simulated rate limit"
	case Fail500:
		pe.HTTPStatus, pe.Code, pe.Reason = 500, "internal_server_error", "server_error"
		pe.Message = "simulated server error"
	case Fail503:
		pe.HTTPStatus, pe.Code, pe.Reason, pe.RateLimit = 503, "service_unavailable", "unavailable", true
		pe.Message = "simulated service unavailable"
	case Fail529:
		pe.HTTPStatus, pe.Code, pe.Reason, pe.RateLimit = 529, "overloaded_error", "overloaded", true
		pe.Message = "simulated overload"
	case FailTimeout:
		pe.Reason = "timeout"
		pe.Message = fmt.Sprintf("no response within %v", TimeoutAfter)
	case FailTruncated:
		pe.HTTPStatus, pe.Reason = 200, "truncated"
		pe.Message = "simulated output hit the token budget"
	case Fail401:
		pe.Kind, pe.HTTPStatus, pe.Code, pe.Reason = examina.KindPermanent, 401, "invalid_api_key", "unauthorized"
		pe.Message = "simulated invalid API key"
	default:
		return examina.E("simulated.Complete", examina.KindInvalid, "unknown failure kind %q", plan.Failure)
	}
	return pe
}

// garbage are the non-JSON answers of "garbage" failures.
var garbage = []string{
	"I'm sorry, but I can't analyse this exercise.",
	"Sure! This exercise is about caches; the topic is memory hierarchy.",
	"<html><body><h1>502 Bad Gateway</h1></body></html>",
	"```json\n{\"is_valid_exercise\": true, \"topic\": ",
}

// Purposes of the independent draws of one call.
const (
	drawFail uint64 = iota + 1
	drawKind
	drawVariant
	drawLatency1
	drawLatency2
)

// latency draws the latency of one call from the configured distribution.
func (p *Provider) latency(id string, call int64) time.Duration {
	switch p.dist {
	case DistFixed:
		return p.cfg.Latency
	case DistLognormal:
		// Box-Muller: a standard normal from two independent uniforms.
		u1 := 1 - p.uniform(id, call, drawLatency1) // (0, 1]
		u2 := p.uniform(id, call, drawLatency2)
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		return time.Duration(float64(p.cfg.Median) * math.Exp(p.sigma*z))
	}
	return p.cfg.Latency + time.Duration(p.uniform(id, call, drawLatency1)*float64(p.cfg.Jitter))
}

// uniform returns a number in [0, 1) that depends only on the seed, the exercise id,
// the call number and the purpose of the draw.
func (p *Provider) uniform(id string, call int64, purpose uint64) float64 {
	h := fnv.New64a()
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], uint64(p.cfg.Seed))
	binary.LittleEndian.PutUint64(buf[8:], uint64(call))
	binary.LittleEndian.PutUint64(buf[16:], purpose)
	h.Write(buf[:])
	h.Write([]byte(id))
	return float64(splitmix64(h.Sum64())>>11) / (1 << 53)
}

// splitmix64 is the SplitMix64 finalizer: it spreads FNV's weak low bits over the word.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
