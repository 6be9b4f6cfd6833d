package retry

import (
	"context"
	"errors"
	"fmt"
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
