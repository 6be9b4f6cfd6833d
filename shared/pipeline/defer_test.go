package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
)

// scriptedProvider answers with errs in turn, then with the offline analyzer.
type scriptedProvider struct {
	errs  []error
	calls int
}

func (p *scriptedProvider) Name() string  { return "scripted" }
func (p *scriptedProvider) Model() string { return "m" }
func (p *scriptedProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	p.calls++
	if p.calls <= len(p.errs) {
		return examina.Response{}, p.errs[p.calls-1]
	}
	resp, err := offline.New().Complete(ctx, req)
	resp.InputTokens, resp.OutputTokens = 300, 200
	return resp, err
}

// reservingGate records what the Analyzer asked of it.
type reservingGate struct {
	deferNext *pipeline.DeferError
	slots     []string
	settled   []examina.Response
	released  int
}

func (g *reservingGate) Acquire(context.Context, int) error { panic("Acquire on a Reserver") }
func (g *reservingGate) Release(examina.Response, error)    { g.released++ }
func (g *reservingGate) Reserve(ctx context.Context, tokens int) (func(examina.Response, error), error) {
	g.slots = append(g.slots, pipeline.SlotFrom(ctx))
	if d := g.deferNext; d != nil {
		g.deferNext = nil
		return nil, d
	}
	return func(resp examina.Response, err error) { g.settled = append(g.settled, resp) }, nil
}

func TestAnalyzerDefers(t *testing.T) {
	limited := func(after time.Duration) error {
		return &examina.ProviderError{Provider: "scripted", Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, RetryAfter: after}
	}
	tests := []struct {
		name         string
		errs         []error
		gateDefer    *pipeline.DeferError
		maxWait      time.Duration
		wantDefer    time.Duration // 0: analysed
		wantAttempts int
	}{
		{"a long retry-after is deferred, not slept", []error{limited(30 * time.Second)}, nil, 3 * time.Second, 30 * time.Second, 1},
		{"a short retry-after is slept", []error{limited(2 * time.Second)}, nil, 3 * time.Second, 0, 0},
		{"no MaxWait sleeps any wait", []error{limited(30 * time.Second)}, nil, 0, 0, 0},
		{"the gate's far slot is deferred before any call", nil, &pipeline.DeferError{Wait: time.Minute, Reason: "budget", Slot: "s1"}, 3 * time.Second, time.Minute, 0},
	}
	ex := examina.Exercise{ID: "e1", Position: 0, Text: "Minimise the function with a Karnaugh map."}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scriptedProvider{errs: tt.errs}
			g := &reservingGate{deferNext: tt.gateDefer}
			a := &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), Clock: retrytest.NewClock(time.Unix(0, 0)), Gate: g, MaxWait: tt.maxWait}
			out, err := a.Analyze(pipeline.WithSlot(context.Background(), "booked"), examina.Course{Code: "X"}, ex, "")
			var de *pipeline.DeferError
			if tt.wantDefer > 0 {
				if !errors.As(err, &de) || de.Wait != tt.wantDefer || de.Attempts != tt.wantAttempts {
					t.Fatalf("Analyze = %v (%#v), want a deferral of %v after %d attempt(s)", err, de, tt.wantDefer, tt.wantAttempts)
				}
				if out.Meta.Status == examina.StatusDegraded {
					t.Fatal("a deferred exercise was degraded")
				}
				return
			}
			if err != nil || out.Meta.Status != examina.StatusOK {
				t.Fatalf("Analyze = %v, status %q", err, out.Meta.Status)
			}
			if g.released != 0 || len(g.settled) != len(tt.errs)+1 {
				t.Fatalf("released %d, settled %d: a Reserver's calls must all be settled", g.released, len(g.settled))
			}
			if last := g.settled[len(g.settled)-1]; last.InputTokens+last.OutputTokens != 500 {
				t.Fatalf("settled with %+v, want the response's usage", last)
			}
			if g.slots[0] != "booked" {
				t.Fatalf("the gate saw slot %q, want the one in the context", g.slots[0])
			}
		})
	}
}
