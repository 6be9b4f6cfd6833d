package cloud

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// SpendStore keeps a job's spend counters (the DynamoDB store): every analyze
// invocation of the fleet reserves and settles against the same job item, so a job's
// cap holds across concurrent Lambdas.
type SpendStore interface {
	// ReserveSpend adds worst nano-USD to the job's committed spend if it stays at
	// most capNanos (capNanos <= 0: no cap); ok false means refused (and counted).
	ReserveSpend(ctx context.Context, jobID string, worst, capNanos int64) (ok bool, err error)
	// SettleSpend replaces a reservation with a finished call's charge.
	SettleSpend(ctx context.Context, jobID string, reserved, charge int64, in, out int, metered bool) error
}

// Pricing finds the price of the deployment's provider and model.
type Pricing struct {
	// Table is the price table (nil: the built-in one).
	Table *cost.Table
	// BaseURL is the provider's base URL: a server on localhost is priced at 0.
	BaseURL string
}

// Quote returns the price of provider's model.
func (p Pricing) Quote(provider, model string) cost.Quote {
	t := p.Table
	if t == nil {
		var err error
		if t, err = cost.Builtin(); err != nil {
			return cost.Quote{Provider: provider, Model: model}
		}
	}
	return t.Lookup(provider, model, p.BaseURL)
}

// jobMeter meters one job's provider calls in its counters and enforces its cap. It
// implements pipeline.Meter.
type jobMeter struct {
	store    SpendStore
	jobID    string
	quote    cost.Quote
	capNanos int64
	log      *slog.Logger
}

func newJobMeter(store SpendStore, jobID string, q cost.Quote, capUSD float64, log *slog.Logger) *jobMeter {
	m := &jobMeter{store: store, jobID: jobID, quote: q, log: log}
	if capUSD > 0 {
		m.capNanos = max(cost.USDToNanos(capUSD), 1)
	}
	return m
}

func (m *jobMeter) Reserve(ctx context.Context, req examina.Request) (func(examina.Response, error), error) {
	worst := m.quote.Nanos(cost.WorstInput(req), cost.WorstOutput(req))
	if m.capNanos > 0 && !m.quote.Known {
		return nil, fmt.Errorf("%w: no price is known for model %q of provider %q, so the job's cost cap (MaxCostUsd) cannot be enforced",
			cost.ErrCapReached, m.quote.Model, m.quote.Provider)
	}
	reserved := int64(0)
	if m.capNanos > 0 {
		// Without a cap nothing is reserved: one write per call instead of two.
		ok, err := m.store.ReserveSpend(ctx, m.jobID, worst, m.capNanos)
		if err != nil {
			return nil, fmt.Errorf("reserving the call's spend: %w", err)
		}
		if !ok {
			return nil, &cost.CapError{CapUSD: cost.NanosToUSD(m.capNanos), NextUSD: cost.NanosToUSD(worst), SpentUSD: -1, ReservedUSD: -1}
		}
		reserved = worst
	}
	return func(resp examina.Response, err error) {
		in, out, metered := cost.Billed(resp, err)
		charge := worst
		if metered {
			charge = m.quote.Nanos(in, out)
		}
		// Recorded even when the invocation's context is ending: the call was made.
		if serr := m.store.SettleSpend(context.WithoutCancel(ctx), m.jobID, reserved, charge, in, out, metered); serr != nil {
			m.log.LogAttrs(ctx, slog.LevelError, "recording the call's spend failed", slog.String("error", serr.Error()),
				slog.Int("input_tokens", in), slog.Int("output_tokens", out))
		}
	}, nil
}

// JobCost is the cost section of a job's figures, from its spend counters. kept are
// the tokens of the answers kept (see KeptTokens); a job without counters has none.
func JobCost(job examina.Job, q cost.Quote, keptIn, keptOut int) *examina.Cost {
	if job.Spend == nil && job.MaxCostUSD <= 0 {
		return nil
	}
	var sp examina.Spend
	if job.Spend != nil {
		sp = *job.Spend
	}
	t := cost.Totals{Calls: sp.Calls, InputTokens: sp.InputTokens, OutputTokens: sp.OutputTokens, MeteredNanos: sp.MeteredNanos,
		Unmetered: sp.Unmetered, UnmeteredNanos: sp.UnmeteredNanos, Refused: sp.Refused}
	c := cost.Summarize(q, t, keptIn, keptOut, job.MaxCostUSD)
	return &c
}

// KeptTokens sums the tokens of the kept attempt of every analysis made by the
// provider (status ok): what the job's spend counters hold beyond them went to
// retries, repairs and failed attempts.
func KeptTokens(results []examina.ExerciseResult) (in, out int) {
	for _, r := range results {
		a := r.Analysis
		if n := len(a.AttemptLog); a.Status == examina.StatusOK && n > 0 {
			in += a.AttemptLog[n-1].InputTokens
			out += a.AttemptLog[n-1].OutputTokens
		}
	}
	return in, out
}
