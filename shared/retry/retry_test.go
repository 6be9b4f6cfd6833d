package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Action
	}{
		{"nil", nil, Stop},
		{"cancelled", fmt.Errorf("call: %w", context.Canceled), Stop},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), Retry},
		{"429", &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true}, Retry},
		{"401", &examina.ProviderError{Kind: examina.KindPermanent, HTTPStatus: 401}, Stop},
		{"truncated", &examina.ProviderError{Kind: examina.KindTransient, Reason: "truncated"}, Enlarge},
		{"invalid output", &examina.ProviderError{Kind: examina.KindInvalid}, Repair},
		{"parse error", examina.E("analysis.Parse", examina.KindInvalid, "confidence: bad"), Repair},
		{"transient kind", examina.E("x", examina.KindTransient, "flaky"), Retry},
		{"unknown", errors.New("boom"), Stop},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Retry},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, Retry},
		{"529 overloaded", &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 529, RateLimit: true, Reason: "overloaded"}, Retry},
		{"spend limit", &examina.ProviderError{Kind: examina.KindPermanent, HTTPStatus: 429, Reason: "spend_limit"}, Stop},
		{"json_validate_failed", &examina.ProviderError{Kind: examina.KindInvalid, HTTPStatus: 400, Code: "json_validate_failed"}, Repair},
		{"cancelled provider call", &examina.ProviderError{Kind: examina.KindTransient, Err: context.Canceled}, Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got.Action != tt.want {
				t.Fatalf("Classify(%v) = %v (%s), want %v", tt.err, got.Action, got.Reason, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Cap: time.Second, MaxServerWait: 10 * time.Second}
	tests := []struct {
		name   string
		n      int
		jitter float64
		err    error
		want   time.Duration
		ok     bool
	}{
		{"first full", 1, 0.999999999, nil, 99999999 * time.Nanosecond, true},
		{"first zero", 1, 0, nil, 0, true},
		{"third half", 3, 0.5, nil, 200 * time.Millisecond, true},
		{"capped", 10, 0.5, nil, 500 * time.Millisecond, true},
		{"server longer", 1, 0.5, &examina.ProviderError{RetryAfter: 3 * time.Second}, 3 * time.Second, true},
		{"server shorter", 5, 0.9, &examina.ProviderError{RetryAfter: time.Millisecond}, 900 * time.Millisecond, true},
		{"server too long", 1, 0.5, &examina.ProviderError{RetryAfter: time.Minute}, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := p
			p.Jitter = func() float64 { return tt.jitter }
			got, ok := p.Backoff(tt.n, tt.err)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Backoff(%d) = %v, %v; want %v, %v", tt.n, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRealClockSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (RealClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestSpend(t *testing.T) {
	rl := &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true}
	boom := &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 500}
	invalid := &examina.ProviderError{Kind: examina.KindInvalid, Reason: "invalid_output"}
	truncated := &examina.ProviderError{Kind: examina.KindTransient, Reason: "truncated"}
	tests := []struct {
		name   string
		policy Policy
		errs   []error
		want   []bool
	}{
		{"plain retries", Policy{MaxRetries: 2}, []error{boom, boom, boom}, []bool{true, true, false}},
		{"rate limits apart", Policy{MaxRetries: 1, MaxRateLimitRetries: 3},
			[]error{rl, rl, boom, rl, rl, boom}, []bool{true, true, true, true, false, false}},
		{"rate limits counted as retries when unset", Policy{MaxRetries: 2},
			[]error{rl, rl, rl}, []bool{true, true, false}},
		{"no retries", Policy{}, []error{boom}, []bool{false}},
		{"negative", Policy{MaxRetries: -1}, []error{boom}, []bool{false}},
		{"repairs apart from retries", Policy{MaxRetries: 0}, []error{invalid, invalid, boom}, []bool{true, false, false}},
		{"enlargements apart from retries", Policy{MaxRetries: 0}, []error{truncated, truncated, truncated, truncated}, []bool{true, true, true, false}},
		{"repairs and enlargements off", Policy{MaxRepairs: -1, MaxEnlargements: -1}, []error{invalid, truncated}, []bool{false, false}},
		{"two repairs", Policy{MaxRepairs: 2}, []error{invalid, invalid, invalid}, []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Budget
			for i, err := range tt.errs {
				if got := tt.policy.Spend(&b, err); got != tt.want[i] {
					t.Fatalf("Spend #%d (%v) = %v, want %v (budget %+v)", i, err, got, tt.want[i], b)
				}
			}
		})
	}
}

func TestBudgetTotal(t *testing.T) {
	p := DefaultPolicy()
	var b Budget
	p.Spend(&b, &examina.ProviderError{Kind: examina.KindTransient, RateLimit: true})
	p.Spend(&b, errors.New("other"))
	if b.Total() != 2 || b.RateLimited != 1 || b.Retries != 1 {
		t.Fatalf("budget = %+v, total %d; want one of each", b, b.Total())
	}
}

func TestRateLimited(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{&examina.ProviderError{Kind: examina.KindTransient, RateLimit: true}, true},
		{fmt.Errorf("wrapped: %w", &examina.ProviderError{Kind: examina.KindTransient, RateLimit: true}), true},
		{&examina.ProviderError{Kind: examina.KindPermanent, RateLimit: true}, false},
	}
	for _, tt := range tests {
		if got := RateLimited(tt.err); got != tt.want {
			t.Errorf("RateLimited(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
