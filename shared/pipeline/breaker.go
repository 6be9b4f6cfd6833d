package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// Breaker defaults.
const (
	DefaultBreakerThreshold = 3
	DefaultBreakerFirstWait = time.Second
	DefaultBreakerMaxWait   = 15 * time.Second
	DefaultBreakerMaxPause  = 5 * time.Minute
)

// BreakerConfig configures a Breaker. Zero fields take the defaults.
type BreakerConfig struct {
	// Threshold is how many outage failures in a row, with no answer in between, from
	// any worker, open the breaker (default 3).
	Threshold int
	// FirstWait is the wait before the first probe, doubled after each failed probe
	// up to MaxWait (defaults 1s and 15s).
	FirstWait, MaxWait time.Duration
	// MaxPause bounds one pause (default 5m): when the provider still fails after it,
	// the breaker gives up and failures degrade their exercises as without it, until
	// the provider answers again.
	MaxPause time.Duration
}

// BreakerState is where a Breaker is.
type BreakerState int

const (
	// BreakerClosed lets every call through.
	BreakerClosed BreakerState = iota
	// BreakerOpen pauses every worker; one call at a time probes the provider.
	BreakerOpen
	// BreakerGaveUp lets calls through after a pause longer than MaxPause; failures
	// degrade their exercises. The next answer closes the breaker.
	BreakerGaveUp
)

// PauseReporter is told when a run pauses and resumes; a Progress may implement it.
// Calls come from the workers, one at a time.
type PauseReporter interface {
	// Paused says the run is paused since since because of err, the provider's
	// failure.
	Paused(since time.Time, err error)
	// Resumed says the pause is over: the provider answered (gaveUp false) or the
	// pause outlasted MaxPause (gaveUp true).
	Resumed(paused time.Duration, gaveUp bool)
}

// Breaker is a circuit breaker shared by every worker of a run: a provider that is
// unreachable, or answers 5xx to everything, is one fault of the provider, not one of
// each exercise. After Threshold such failures in a row the breaker opens: every
// worker waits, one call probes the provider after a backoff (FirstWait doubling to
// MaxWait), and the run resumes as soon as the provider answers. Exercises whose
// retries ran out during the pause are held, not degraded, until MaxPause has passed.
// Safe for concurrent use.
type Breaker struct {
	cfg    BreakerConfig
	clock  retry.Clock
	report PauseReporter

	mu        sync.Mutex
	state     BreakerState
	failures  int       // outage failures in a row
	lastKey   int       // the exercise of the last counted 5xx
	recovered time.Time // when the last pause ended with the provider answering
	openedAt  time.Time // start of the current pause
	wait      time.Duration
	nextProbe time.Time
	sleeper   bool // a worker waits for nextProbe
	probing   bool // the probe call is in flight
	changed   chan struct{}
	pauses    int
	paused    time.Duration
}

// NewBreaker returns a closed breaker. clock nil is the wall clock; report may be nil.
func NewBreaker(cfg BreakerConfig, clock retry.Clock, report PauseReporter) *Breaker {
	if cfg.Threshold <= 0 {
		cfg.Threshold = DefaultBreakerThreshold
	}
	if cfg.FirstWait <= 0 {
		cfg.FirstWait = DefaultBreakerFirstWait
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultBreakerMaxWait
	}
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = DefaultBreakerMaxPause
	}
	if clock == nil {
		clock = retry.RealClock{}
	}
	return &Breaker{cfg: cfg, clock: clock, report: report, changed: make(chan struct{})}
}

// Outage reports whether err says the provider is down rather than that one request
// failed: no response at all (connection refused or reset, a timeout) or a 5xx. Rate
// limits (429, 529) are not outages: the gate and the retry budget handle them.
func Outage(err error) bool {
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Kind != examina.KindTransient || errors.Is(err, context.Canceled) {
		return false
	}
	if pe.HTTPStatus == 0 {
		return pe.Reason == "connection" || pe.Reason == "timeout"
	}
	return pe.HTTPStatus >= 500 && pe.HTTPStatus <= 599
}

// State returns the breaker's state.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Pauses returns how many times the breaker opened and for how long in all.
func (b *Breaker) Pauses() (n int, total time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pauses, b.paused
}

// Wait blocks while the breaker is open, until the caller may call the provider or ctx
// is done. probe says the caller's call is the probe: it must be followed by Record.
func (b *Breaker) Wait(ctx context.Context) (probe bool, err error) {
	for {
		b.mu.Lock()
		if b.state != BreakerOpen {
			b.mu.Unlock()
			return false, ctx.Err()
		}
		ch := b.changed
		if !b.sleeper && !b.probing {
			b.sleeper = true
			d := b.nextProbe.Sub(b.clock.Now())
			b.mu.Unlock()
			err := b.clock.Sleep(ctx, d)
			b.mu.Lock()
			b.sleeper = false
			if err != nil {
				b.mu.Unlock()
				return false, err
			}
			if b.state == BreakerOpen && !b.probing {
				b.probing = true
				b.mu.Unlock()
				return true, nil
			}
			b.mu.Unlock()
			continue
		}
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// Record tells the breaker the outcome of a call for exercise key (probe: the call
// Wait made the probe). An answer, even an error answer such as a 400, closes the
// breaker; outage failures count toward opening it (a 5xx only when it comes from
// another exercise than the last one counted: a server that answers 500 to one
// exercise's request is alive), and a failed probe schedules the next one or, past
// MaxPause, gives up.
func (b *Breaker) Record(key int, err error, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		if probe {
			b.broadcast() // another worker probes
		}
	case !Outage(err):
		b.failures = 0
		if b.state != BreakerClosed {
			b.resume(false)
		}
	default:
		var pe *examina.ProviderError
		if errors.As(err, &pe) && pe.HTTPStatus != 0 {
			if b.failures > 0 && key == b.lastKey {
				break
			}
			b.lastKey = key
		}
		b.failures++
		switch b.state {
		case BreakerClosed:
			if b.failures >= b.cfg.Threshold {
				b.open(err)
			}
		case BreakerOpen:
			if probe {
				b.reschedule()
			}
		}
	}
}

// Hold is asked by an exercise whose retries ran out on err, in an attempt that began
// at since: true means the provider is down and the breaker is (now) open, or a pause
// ended with the provider answering after since, so the exercise should try again
// rather than degrade; false means degrade (not an outage, the provider answers other
// calls, or the breaker gave up).
func (b *Breaker) Hold(err error, since time.Time) bool {
	if !Outage(err) {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		return true
	case BreakerClosed:
		if !b.recovered.IsZero() && !b.recovered.Before(since) {
			return true
		}
		if b.failures >= b.cfg.Threshold {
			b.open(err)
			return true
		}
	}
	return false
}

func (b *Breaker) open(err error) {
	b.state = BreakerOpen
	b.openedAt = b.clock.Now()
	b.wait = b.cfg.FirstWait
	b.nextProbe = b.openedAt.Add(b.wait)
	b.pauses++
	if b.report != nil {
		b.report.Paused(b.openedAt, err)
	}
	b.broadcast()
}

// reschedule follows a failed probe: the next one after a doubled wait, or give up
// when the pause has lasted MaxPause.
func (b *Breaker) reschedule() {
	now := b.clock.Now()
	if now.Sub(b.openedAt) >= b.cfg.MaxPause {
		b.resume(true)
		return
	}
	b.wait = min(b.wait*2, b.cfg.MaxWait)
	b.nextProbe = now.Add(min(b.wait, b.openedAt.Add(b.cfg.MaxPause).Sub(now)))
	b.broadcast()
}

func (b *Breaker) resume(gaveUp bool) {
	if b.state == BreakerOpen {
		d := b.clock.Now().Sub(b.openedAt)
		b.paused += d
		if b.report != nil {
			b.report.Resumed(d, gaveUp)
		}
	}
	b.state = BreakerClosed
	if gaveUp {
		b.state = BreakerGaveUp
	} else {
		b.recovered = b.clock.Now()
	}
	b.broadcast()
}

// broadcast wakes every waiter; the caller holds mu.
func (b *Breaker) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}
