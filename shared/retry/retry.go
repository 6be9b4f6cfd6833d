// Package retry decides whether a failed provider call is tried again, and how long to
// wait first: classification with a reason, exponential backoff with full jitter capped
// and stretched to whatever the server asked for, and an injectable clock so the timing
// is tested with instants, never with sleeps.
package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Clock tells the time and waits. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Action is what to do after a failed attempt.
type Action int

const (
	// Stop gives up: the error is permanent or the context is done.
	Stop Action = iota
	// Retry tries the same request again after a backoff.
	Retry
	// Repair tries again with the validation error included in the request.
	Repair
	// Enlarge tries again with a larger output budget (the output was truncated).
	Enlarge
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Repair:
		return "repair"
	case Enlarge:
		return "enlarge"
	}
	return "stop"
}

// Decision is an Action with the reason it was taken.
type Decision struct {
	Action Action
	Reason string
}

// Classify decides what to do after err. It looks at the domain error kinds and at
// *examina.ProviderError, which provider clients produce at their edge.
func Classify(err error) Decision {
	if err == nil {
		return Decision{Stop, "success"}
	}
	if errors.Is(err, context.Canceled) {
		return Decision{Stop, "cancelled"}
	}
	var pe *examina.ProviderError
	if errors.As(err, &pe) {
		switch {
		case pe.Reason == "truncated":
			return Decision{Enlarge, "output truncated at the token budget"}
		case pe.Kind == examina.KindInvalid:
			return Decision{Repair, "output failed validation"}
		case pe.Kind == examina.KindTransient:
			return Decision{Retry, transientReason(pe)}
		case pe.Reason != "":
			return Decision{Stop, "permanent provider error: " + pe.Reason}
		default:
			return Decision{Stop, "permanent provider error"}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Decision{Retry, "timeout"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Decision{Retry, "connection closed early"}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return Decision{Retry, "timeout"}
		}
		return Decision{Retry, "connection error"}
	}
	switch examina.KindOf(err) {
	case examina.KindInvalid:
		return Decision{Repair, "output failed validation"}
	case examina.KindTransient:
		return Decision{Retry, "transient error"}
	}
	return Decision{Stop, "unclassified error"}
}

func transientReason(pe *examina.ProviderError) string {
	if pe.Reason != "" {
		return pe.Reason
	}
	if pe.RateLimit {
		return "rate limited"
	}
	return "transient provider error"
}

// Policy is how often and how long to retry.
type Policy struct {
	// MaxRetries is the number of attempts after the first (default 2).
	MaxRetries int
	// MaxRateLimitRetries is the number of retries of rate-limited attempts (429,
	// 529, 503: ProviderError.RateLimit), counted apart from MaxRetries so a burst
	// of 429s does not use up the retries meant for real failures (default 8). 0
	// counts them against MaxRetries like any other retry.
	MaxRateLimitRetries int
	// MaxRepairs is the number of repair attempts after invalid output, counted apart
	// from MaxRetries so --retries 0 still repairs (default 1; negative: none).
	MaxRepairs int
	// MaxEnlargements is the number of attempts with a doubled output budget after
	// truncated output, counted apart from MaxRetries (default 3, 1024 to 8192 tokens;
	// negative: none). The caller also stops when the budget cannot grow.
	MaxEnlargements int
	// Base is the backoff before the first retry, doubled each time (default 500ms).
	Base time.Duration
	// Cap bounds the computed backoff (default 20s).
	Cap time.Duration
	// MaxServerWait bounds how long a server-requested wait (Retry-After) is honoured
	// (default 2m). A longer request gives up instead of hanging the run.
	MaxServerWait time.Duration
	// Jitter returns a number in [0,1); nil uses math/rand/v2.
	Jitter func() float64
}

// DefaultPolicy returns the documented defaults.
func DefaultPolicy() Policy {
	return Policy{MaxRetries: 2, MaxRateLimitRetries: 8, MaxRepairs: 1, MaxEnlargements: 3, Base: 500 * time.Millisecond, Cap: 20 * time.Second, MaxServerWait: 2 * time.Minute}
}

// Budget counts the retries spent on one item, rate-limited ones, repairs and
// enlargements apart.
type Budget struct {
	Retries      int // retries counted against MaxRetries
	RateLimited  int // retries counted against MaxRateLimitRetries
	Repairs      int // repair attempts counted against MaxRepairs
	Enlargements int // enlarged attempts counted against MaxEnlargements
}

// Total is the number of backed-off retries spent, the n to pass to Backoff after
// Spend (repairs and enlargements are sent at once, without a backoff).
func (b Budget) Total() int { return b.Retries + b.RateLimited }

// Spend reports whether p allows one more attempt after err, given what b has spent,
// and records it in b when it does. Invalid output draws on MaxRepairs, truncated
// output on MaxEnlargements, rate-limited errors on MaxRateLimitRetries when it is
// set, every other error on MaxRetries.
func (p Policy) Spend(b *Budget, err error) bool {
	switch Classify(err).Action {
	case Repair:
		return take(&b.Repairs, p.MaxRepairs, 1)
	case Enlarge:
		return take(&b.Enlargements, p.MaxEnlargements, 3)
	}
	if p.MaxRateLimitRetries > 0 && RateLimited(err) {
		if b.RateLimited >= p.MaxRateLimitRetries {
			return false
		}
		b.RateLimited++
		return true
	}
	if b.Retries >= max(p.MaxRetries, 0) {
		return false
	}
	b.Retries++
	return true
}

// take spends one of limit (def when 0, none when negative) from *spent.
func take(spent *int, limit, def int) bool {
	if limit == 0 {
		limit = def
	}
	if *spent >= limit {
		return false
	}
	*spent++
	return true
}

// RateLimited reports whether err says the provider is shedding load (a
// *examina.ProviderError with RateLimit set: 429, 529, 503).
func RateLimited(err error) bool {
	var pe *examina.ProviderError
	return errors.As(err, &pe) && pe.RateLimit && pe.Kind == examina.KindTransient
}

// Backoff returns the wait before retry number n (1 for the first retry) after err:
// full jitter over min(Cap, Base·2^(n-1)), raised to the server's requested wait if
// err carries one. ok is false when the server asked for more than MaxServerWait.
func (p Policy) Backoff(n int, err error) (wait time.Duration, ok bool) {
	p = p.withDefaults()
	if n < 1 {
		n = 1
	}
	ceil := p.Base
	for i := 1; i < n && ceil < p.Cap; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.Cap)
	j := p.Jitter
	if j == nil {
		j = rand.Float64
	}
	wait = time.Duration(j() * float64(ceil))
	var pe *examina.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		if pe.RetryAfter > p.MaxServerWait {
			return pe.RetryAfter, false
		}
		wait = max(wait, pe.RetryAfter)
	}
	return wait, true
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Cap <= 0 {
		p.Cap = d.Cap
	}
	if p.MaxServerWait <= 0 {
		p.MaxServerWait = d.MaxServerWait
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	return p
}
