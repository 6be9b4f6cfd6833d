package cost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ErrCapReached is matched (errors.Is) by every *CapError.
var ErrCapReached = errors.New("cost cap reached")

// CapError says a call was not started because it could take the spend over the cap.
type CapError struct {
	CapUSD      float64 // the cap
	SpentUSD    float64 // spent so far (unmetered calls at their worst case); -1: not known here
	ReservedUSD float64 // reserved by calls in flight, at their worst case; -1: not known here
	NextUSD     float64 // the refused call's worst case
}

func (e *CapError) Error() string {
	if e.SpentUSD < 0 {
		// The spend lives elsewhere (a job's counters): only the cap is known here.
		return fmt.Sprintf("cost cap of %s reached: the next call could cost up to %s, more than the cap leaves", FormatUSD(e.CapUSD), FormatUSD(e.NextUSD))
	}
	return fmt.Sprintf("cost cap of %s reached: %s spent, %s reserved by calls in flight, the next call could cost up to %s",
		FormatUSD(e.CapUSD), FormatUSD(e.SpentUSD), FormatUSD(e.ReservedUSD), FormatUSD(e.NextUSD))
}

// Is makes errors.Is(err, ErrCapReached) true.
func (e *CapError) Is(target error) bool { return target == ErrCapReached }

// Billed says what a finished call is billed for: the usage the response reported;
// nothing for a call the server rejected with an HTTP error and no usage (providers do
// not bill rejected requests); and, for a call that reported no usage otherwise (a
// timeout, a broken connection, a body that would not decode), metered is false: it
// may have been billed, how much is unknown.
func Billed(resp examina.Response, err error) (in, out int, metered bool) {
	if resp.InputTokens > 0 || resp.OutputTokens > 0 {
		return resp.InputTokens, resp.OutputTokens, true
	}
	status := resp.HTTPStatus
	var pe *examina.ProviderError
	if errors.As(err, &pe) && pe.HTTPStatus != 0 {
		status = pe.HTTPStatus
	}
	if err != nil && status >= 400 {
		return 0, 0, true
	}
	return 0, 0, false
}

// Totals are what a Ledger has metered.
type Totals struct {
	Calls        int   // calls settled
	InputTokens  int   // reported input tokens of every call
	OutputTokens int   // reported output tokens of every call
	MeteredNanos int64 // cost of the reported usage
	Unmetered    int   // calls that reported no usage but may have been billed
	// UnmeteredNanos is the worst case of the unmetered calls, counted as spent by the
	// cap.
	UnmeteredNanos int64
	ReservedNanos  int64 // reserved by calls in flight now
	Refused        int   // calls refused by the cap
	// PeakNanos is the highest spent+reserved seen, earlier runs' spend included:
	// never above the cap.
	PeakNanos int64
}

// SpentNanos is what the cap counts as spent: metered plus the unmetered worst case.
func (t Totals) SpentNanos() int64 { return t.MeteredNanos + t.UnmeteredNanos }

// Ledger meters the provider calls of one run (or one job) at one price and enforces
// an optional cap: a call starts only when the spend so far plus the worst case of
// every call in flight plus its own worst case stays within the cap. It implements
// pipeline.Meter and is safe for concurrent use.
type Ledger struct {
	quote    Quote
	capNanos int64 // 0: no cap

	mu sync.Mutex
	t  Totals
	// carried is the spend of the job's earlier runs (Carry): it counts towards the
	// cap and the job's total, not this run's figures.
	carried examina.Spend
}

// Carry adds the spend of the job's earlier runs, so the cap holds for the job as a
// whole: a run resumed after the cap stopped it continues only under a higher cap.
// Call it before the first Reserve.
func (l *Ledger) Carry(prev examina.Spend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.carried = prev
	l.carried.CommittedNanos = prev.MeteredNanos + prev.UnmeteredNanos // nothing is in flight between runs
}

// carriedNanos is the earlier runs' spend as the cap counts it. Called with l.mu held.
func (l *Ledger) carriedNanos() int64 { return l.carried.MeteredNanos + l.carried.UnmeteredNanos }

// JobSpend is the job's spend: the earlier runs' (Carry) plus this run's.
func (l *Ledger) JobSpend() examina.Spend {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, t := l.carried, l.t
	return examina.Spend{Calls: c.Calls + t.Calls, InputTokens: c.InputTokens + t.InputTokens, OutputTokens: c.OutputTokens + t.OutputTokens,
		MeteredNanos: c.MeteredNanos + t.MeteredNanos, Unmetered: c.Unmetered + t.Unmetered, UnmeteredNanos: c.UnmeteredNanos + t.UnmeteredNanos,
		CommittedNanos: c.MeteredNanos + c.UnmeteredNanos + t.SpentNanos() + t.ReservedNanos, Refused: c.Refused + t.Refused}
}

// NewLedger returns a Ledger pricing calls at q. maxUSD > 0 sets a cap, which needs a
// known price (a local server's 0 included).
func NewLedger(q Quote, maxUSD float64) (*Ledger, error) {
	l := &Ledger{quote: q}
	if maxUSD < 0 || bad(maxUSD) {
		return nil, fmt.Errorf("cost: the cap must be a positive amount in USD, not %g", maxUSD)
	}
	if maxUSD > 0 {
		if !q.Known {
			return nil, fmt.Errorf("cost: no price is known for model %q of provider %q, so a cost cap cannot be enforced; give its price with --prices FILE (see README, \"Prices\")", q.Model, q.Provider)
		}
		l.capNanos = max(USDToNanos(maxUSD), 1)
	}
	return l, nil
}

// Quote returns the price the Ledger charges.
func (l *Ledger) Quote() Quote { return l.quote }

// CapUSD returns the cap, 0 when none.
func (l *Ledger) CapUSD() float64 { return NanosToUSD(l.capNanos) }

// Totals returns what has been metered so far.
func (l *Ledger) Totals() Totals {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}

// Reserve is called right before a provider call with the request about to be sent.
// It reserves the call's worst case (WorstInput, WorstOutput) or, when that could take
// the spend over the cap, returns a *CapError and the call must not be made. settle
// must be called once with the call's outcome: it replaces the reservation with the
// billed usage (the worst case for a call that reported none, see Billed).
func (l *Ledger) Reserve(_ context.Context, req examina.Request) (settle func(examina.Response, error), err error) {
	worst := l.quote.Nanos(WorstInput(req), WorstOutput(req))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.capNanos > 0 && l.carriedNanos()+l.t.SpentNanos()+l.t.ReservedNanos+worst > l.capNanos {
		l.t.Refused++
		return nil, &CapError{CapUSD: NanosToUSD(l.capNanos), SpentUSD: NanosToUSD(l.carriedNanos() + l.t.SpentNanos()),
			ReservedUSD: NanosToUSD(l.t.ReservedNanos), NextUSD: NanosToUSD(worst)}
	}
	l.t.ReservedNanos += worst
	l.t.PeakNanos = max(l.t.PeakNanos, l.carriedNanos()+l.t.SpentNanos()+l.t.ReservedNanos)
	var once sync.Once
	return func(resp examina.Response, err error) {
		once.Do(func() { l.settle(worst, resp, err) })
	}, nil
}

func (l *Ledger) settle(worst int64, resp examina.Response, err error) {
	in, out, metered := Billed(resp, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.ReservedNanos -= worst
	l.t.Calls++
	if metered {
		l.t.InputTokens += in
		l.t.OutputTokens += out
		l.t.MeteredNanos += l.quote.Nanos(in, out)
	} else {
		l.t.Unmetered++
		l.t.UnmeteredNanos += worst
	}
	l.t.PeakNanos = max(l.t.PeakNanos, l.carriedNanos()+l.t.SpentNanos()+l.t.ReservedNanos)
}

// Report is the cost section of a run's stats. keptIn and keptOut are the tokens of
// the attempts whose answers were kept (one per exercise analysed without
// degradation); everything else metered was spent on retries, repairs and failed
// attempts.
func (l *Ledger) Report(keptIn, keptOut int) examina.Cost {
	t := l.Totals()
	c := Summarize(l.quote, t, keptIn, keptOut, NanosToUSD(l.capNanos))
	if js := l.JobSpend(); l.quote.Known && js.Calls > t.Calls {
		usd := NanosToUSD(js.MeteredNanos)
		c.JobUSD = &usd
	}
	return c
}

// Summarize builds the cost section of stats from metered totals (the cloud passes a
// job's counters). Negative kept tokens mean the kept answers are not known: the
// retry share is then left out (null).
func Summarize(q Quote, t Totals, keptIn, keptOut int, capUSD float64) examina.Cost {
	c := examina.Cost{
		PriceKnown:     q.Known,
		InputTokens:    t.InputTokens,
		OutputTokens:   t.OutputTokens,
		Calls:          t.Calls,
		UnmeteredCalls: t.Unmetered,
		RefusedCalls:   t.Refused,
	}
	split := keptIn >= 0 && keptOut >= 0 // negative: the kept answers are not known (yet)
	if split {
		c.RetryInputTokens, c.RetryOutputTokens = max(t.InputTokens-keptIn, 0), max(t.OutputTokens-keptOut, 0)
	}
	if q.Known {
		usd := NanosToUSD(t.MeteredNanos)
		worst := NanosToUSD(t.UnmeteredNanos)
		c.USD, c.UnmeteredMaxUSD = &usd, &worst
		if split {
			retry := min(q.USD(c.RetryInputTokens, c.RetryOutputTokens), usd)
			c.RetryUSD = &retry
		}
		c.Price = &examina.PriceInfo{InputPerMTok: q.InputPerMTok, OutputPerMTok: q.OutputPerMTok,
			Checked: q.Checked, Source: q.Source, Origin: q.Origin, Local: q.Local}
	}
	if capUSD > 0 {
		c.MaxUSD = &capUSD
	}
	return c
}
