package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// price is the price every cost test runs at.
var testQuote = cost.Quote{Provider: "fake", Model: "fake-1", Known: true, Origin: "test",
	Price: cost.Price{InputPerMTok: 1, OutputPerMTok: 4}}

// worstUSD is the worst case of one first attempt of an exercise of course(n).
func worstUSD(t *testing.T, cf examina.CourseFile, i int) float64 {
	t.Helper()
	var got examina.Request
	p := &recordingProvider{fakeProvider: &fakeProvider{}, seen: func(r examina.Request) { got = r }}
	an := &pipeline.Analyzer{Provider: p, Clock: &instantClock{}, Language: "en"}
	if _, err := an.Analyze(context.Background(), cf.Course, cf.Exercises[i], cf.Previous(i)); err != nil {
		t.Fatal(err)
	}
	return testQuote.USD(cost.WorstInput(got), cost.WorstOutput(got))
}

type recordingProvider struct {
	*fakeProvider
	seen func(examina.Request)
}

func (p *recordingProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	p.seen(req)
	return p.fakeProvider.Complete(ctx, req)
}

// cappedProvider checks the cap's invariant on every call: what is spent plus what the
// calls in flight reserved never exceeds the cap.
type cappedProvider struct {
	*fakeProvider
	ledger     *cost.Ledger
	capNanos   int64
	violations atomic.Int64
}

func (p *cappedProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	if t := p.ledger.Totals(); t.SpentNanos()+t.ReservedNanos > p.capNanos {
		p.violations.Add(1)
	}
	resp, err := p.fakeProvider.Complete(ctx, req)
	// Usage that varies by exercise, 30% to 90% of the request's worst case.
	resp.InputTokens = cost.WorstInput(req) * (3 + req.Exercise.Position%7) / 10
	resp.OutputTokens = cost.WorstOutput(req) * (3 + req.Exercise.Position%5) / 10
	return resp, err
}

func TestCostCapNeverExceededUnderConcurrency(t *testing.T) {
	cf := course(80)
	worst := worstUSD(t, cf, 79)
	capUSD := 25 * worst // room for the batch of 10 in flight, not for 80 exercises
	ledger, err := cost.NewLedger(testQuote, capUSD)
	if err != nil {
		t.Fatal(err)
	}
	// The first 10 calls wait for each other: the cap is exercised with the whole batch
	// in flight.
	p := &cappedProvider{fakeProvider: &fakeProvider{hold: time.Millisecond, gather: 10, gathered: make(chan struct{})},
		ledger: ledger, capNanos: cost.USDToNanos(capUSD)}
	st := openStore(t, t.TempDir())
	r := newRunner(st, p, 10)
	r.Cost = ledger
	_, err = r.Run(context.Background(), cf)
	var be *pipeline.BudgetError
	if !errors.As(err, &be) || !errors.Is(err, cost.ErrCapReached) {
		t.Fatalf("err = %v, want a BudgetError", err)
	}
	tot := ledger.Totals()
	if n := p.violations.Load(); n > 0 || tot.PeakNanos > cost.USDToNanos(capUSD) || tot.SpentNanos() > cost.USDToNanos(capUSD) {
		t.Fatalf("cap %s exceeded: %d violations, peak %s, spent %s", cost.FormatUSD(capUSD), n,
			cost.FormatUSD(cost.NanosToUSD(tot.PeakNanos)), cost.FormatUSD(cost.NanosToUSD(tot.SpentNanos())))
	}
	if p.maxIn.Load() != 10 {
		t.Errorf("max in flight %d, want 10", p.maxIn.Load())
	}
	stored, err := st.Results(context.Background(), pipeline.JobID(cf, "examina-analysis/v1", "fake", "fake-1", "en"))
	if err != nil {
		t.Fatal(err)
	}
	if be.Done != len(stored) || be.Done == 0 || be.Done >= 80 || be.Total != 80 || be.Analyzed != be.Done {
		t.Errorf("stopped with %d of %d done (%d stored this run), stored %d: want a partial run, all of it stored", be.Done, be.Total, be.Analyzed, len(stored))
	}
	if int(p.total.Load()) != tot.Calls || tot.Refused == 0 {
		t.Errorf("provider saw %d calls, ledger settled %d (refused %d)", p.total.Load(), tot.Calls, tot.Refused)
	}
	if be.Cost.USD == nil || *be.Cost.USD > capUSD || be.Cost.Calls != tot.Calls {
		t.Errorf("the error's cost %+v", be.Cost)
	}
	job, err := st.GetJob(context.Background(), pipeline.JobID(cf, "examina-analysis/v1", "fake", "fake-1", "en"))
	if err != nil || job.Status != examina.JobCancelled || job.Done != be.Done {
		t.Errorf("job = %+v, %v; want cancelled (resumable) with done %d", job, err, be.Done)
	}
	t.Logf("cap %s: %d of 80 exercises, %d calls, spent %s, peak committed %s", cost.FormatUSD(capUSD), be.Done, tot.Calls,
		cost.FormatUSD(cost.NanosToUSD(tot.SpentNanos())), cost.FormatUSD(cost.NanosToUSD(tot.PeakNanos)))
}

func TestCostCapResumes(t *testing.T) {
	cf := course(30)
	worst := worstUSD(t, cf, 29)
	st := openStore(t, t.TempDir())
	small, _ := cost.NewLedger(testQuote, 8.5*worst)
	p := &cappedProvider{fakeProvider: &fakeProvider{}, ledger: small, capNanos: cost.USDToNanos(8.5 * worst)}
	r := newRunner(st, p, 4)
	r.Cost = small
	_, err := r.Run(context.Background(), cf)
	var be *pipeline.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("first run: err = %v, want a BudgetError", err)
	}
	firstCalls := p.total.Load()

	big, _ := cost.NewLedger(testQuote, 1000*worst)
	p.ledger, p.capNanos = big, cost.USDToNanos(1000*worst)
	r = newRunner(st, p, 4)
	r.Cost = big
	res, err := r.Run(context.Background(), cf)
	if err != nil {
		t.Fatalf("second run with a higher cap: %v", err)
	}
	if p.violations.Load() > 0 {
		t.Errorf("first run exceeded its cap %d times", p.violations.Load())
	}
	if res.Stats.Resumed != be.Done || res.Stats.ProviderCalls != 30-be.Done || p.total.Load() != 30 {
		t.Errorf("second run resumed %d (want %d), made %d calls (want %d), provider total %d (first run %d)",
			res.Stats.Resumed, be.Done, res.Stats.ProviderCalls, 30-be.Done, p.total.Load(), firstCalls)
	}
	if res.Stats.Cost == nil || res.Stats.Cost.Calls != 30-be.Done || res.Stats.Cost.MaxUSD == nil {
		t.Errorf("second run's cost = %+v", res.Stats.Cost)
	}
}

// scriptProvider answers each exercise's calls from a script: the n-th call of an
// exercise gets script[pos][n-1] (past the end: a valid answer).
type scriptProvider struct {
	*fakeProvider
	mu     sync.Mutex
	n      map[int]int
	script map[int][]func(ok examina.Response) (examina.Response, error)
}

func (p *scriptProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	ok, _ := p.fakeProvider.Complete(ctx, req)
	ok.InputTokens, ok.OutputTokens = 300, 120
	p.mu.Lock()
	if p.n == nil {
		p.n = map[int]int{}
	}
	p.n[req.Exercise.Position]++
	i := p.n[req.Exercise.Position] - 1
	p.mu.Unlock()
	if steps := p.script[req.Exercise.Position]; i < len(steps) {
		return steps[i](ok)
	}
	return ok, nil
}

func TestCostIncludesFailedAttempts(t *testing.T) {
	truncated := func(examina.Response) (examina.Response, error) {
		return examina.Response{InputTokens: 300, OutputTokens: 1024, HTTPStatus: 200},
			&examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 200, Reason: "truncated"}
	}
	garbage := func(examina.Response) (examina.Response, error) {
		return examina.Response{Text: "not json at all", InputTokens: 300, OutputTokens: 60, HTTPStatus: 200}, nil
	}
	limited := func(examina.Response) (examina.Response, error) {
		return examina.Response{}, &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, Reason: "rate_limited"}
	}
	timeout := func(examina.Response) (examina.Response, error) {
		return examina.Response{}, &examina.ProviderError{Provider: "fake", Kind: examina.KindTransient, Reason: "timeout"}
	}
	denied := func(examina.Response) (examina.Response, error) {
		return examina.Response{}, &examina.ProviderError{Provider: "fake", Kind: examina.KindPermanent, HTTPStatus: 401, Reason: "unauthorized"}
	}
	p := &scriptProvider{fakeProvider: &fakeProvider{}, script: map[int][]func(examina.Response) (examina.Response, error){
		0: {truncated, garbage}, // truncated, then invalid output, then the repaired answer
		1: {limited},            // a 429 without usage, then the answer
		2: {timeout},            // a timeout (unmetered), then the answer
		3: {garbage, garbage},   // invalid, repair still invalid: degraded
		4: {denied},             // permanent failure without usage: degraded
	}}
	ledger, _ := cost.NewLedger(testQuote, 0)
	r := newRunner(openStore(t, t.TempDir()), p, 3)
	r.Cost = ledger
	res, err := r.Run(context.Background(), course(6))
	if err != nil {
		t.Fatal(err)
	}
	// Metered: ex0 300/1024 + 300/60 + 300/120; ex1 0 + 300/120; ex2 unmetered + 300/120;
	// ex3 300/60 + 300/60; ex4 0; ex5 300/120.
	wantIn := 300 * 8
	wantOut := 1024 + 60 + 120 + 120 + 120 + 60 + 60 + 120
	keptIn, keptOut := 4*300, 4*120 // ex0, ex1, ex2, ex5
	c := res.Stats.Cost
	if c == nil {
		t.Fatal("no stats.cost")
	}
	if c.InputTokens != wantIn || c.OutputTokens != wantOut || c.Calls != 11 || c.UnmeteredCalls != 1 {
		t.Errorf("cost tokens %d/%d, calls %d, unmetered %d; want %d/%d, 11, 1", c.InputTokens, c.OutputTokens, c.Calls, c.UnmeteredCalls, wantIn, wantOut)
	}
	if c.RetryInputTokens != wantIn-keptIn || c.RetryOutputTokens != wantOut-keptOut {
		t.Errorf("retry tokens %d/%d, want %d/%d", c.RetryInputTokens, c.RetryOutputTokens, wantIn-keptIn, wantOut-keptOut)
	}
	wantUSD := testQuote.USD(wantIn, wantOut)
	if c.USD == nil || fmt.Sprintf("%.9f", *c.USD) != fmt.Sprintf("%.9f", wantUSD) || c.RetryUSD == nil || *c.RetryUSD <= 0 || *c.RetryUSD >= *c.USD {
		t.Errorf("usd %v retry %v, want %.9f and a retry share", c.USD, c.RetryUSD, wantUSD)
	}
	if c.UnmeteredMaxUSD == nil || *c.UnmeteredMaxUSD <= 0 {
		t.Errorf("the timed-out call's worst case is missing: %v", c.UnmeteredMaxUSD)
	}
	// The per-exercise figures agree with the ledger on what was reported.
	if res.Stats.InputTokens != wantIn || res.Stats.OutputTokens != wantOut || res.Stats.ProviderCalls != 11 || res.Stats.Degraded != 2 {
		t.Errorf("stats tokens %d/%d, calls %d, degraded %d", res.Stats.InputTokens, res.Stats.OutputTokens, res.Stats.ProviderCalls, res.Stats.Degraded)
	}
}
