package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// Gate bounds and paces provider calls. Acquire blocks until a call may start (a free
// slot, and rate-limit budget for about tokens tokens) or ctx is done; every successful
// Acquire is followed by exactly one Release with the call's outcome, which adaptive
// gates use to shrink or grow their limit.
type Gate interface {
	Acquire(ctx context.Context, tokens int) error
	Release(resp examina.Response, err error)
}

// Meter accounts for the spend of provider calls (cost.Ledger locally, the job's
// counters in the cloud). Reserve is called right before every provider call, retries
// and repairs included, with the request about to be sent; when it fails (an error
// matching cost.ErrCapReached: the call could take the spend over a cap) the call is
// not made and Analyze returns that error. Otherwise settle is called once with the
// call's outcome.
type Meter interface {
	Reserve(ctx context.Context, req examina.Request) (settle func(examina.Response, error), err error)
}

// Reserver is a Gate whose calls are settled one by one: Reserve is Acquire, and the
// function it returns ends the call in place of Release, with the response's actual
// usage, so tokens reserved by estimate and not used are given back. The Analyzer uses
// Reserve when its Gate implements it.
type Reserver interface {
	Reserve(ctx context.Context, tokens int) (settle func(examina.Response, error), err error)
}

// DeferError says the exercise's next attempt cannot start for Wait, longer than the
// caller may sleep: a rate-limit budget slot booked Wait ahead, or a server's
// Retry-After beyond Analyzer.MaxWait. The exercise is neither analysed nor degraded;
// the caller hands it back to be tried again when its slot comes (the cloud path
// re-sends the message with a delay). Slot, when set, is the booked slot, opaque, to
// pass back with WithSlot on the next try so it is not booked twice.
type DeferError struct {
	Wait   time.Duration
	Reason string
	Slot   string
	// Pace, for a deferral without a Slot, is the budget's interval between calls:
	// many items deferred together come back spread at this pace in their order
	// rather than all at once (0: no pace known).
	Pace time.Duration
	// Attempts is the number of provider calls made before deferring.
	Attempts int
}

func (e *DeferError) Error() string {
	return fmt.Sprintf("deferred for %s: %s", e.Wait.Round(time.Millisecond), e.Reason)
}

type slotKey struct{}

// WithSlot returns ctx carrying a slot booked by an earlier try (DeferError.Slot), for
// the gate to use instead of booking a new one.
func WithSlot(ctx context.Context, slot string) context.Context {
	if slot == "" {
		return ctx
	}
	return context.WithValue(ctx, slotKey{}, slot)
}

// SlotFrom returns the slot WithSlot put in ctx, or "".
func SlotFrom(ctx context.Context) string {
	s, _ := ctx.Value(slotKey{}).(string)
	return s
}

type retryKey struct{}

// WithRetry returns ctx marking its calls as retries of an item whose earlier call
// failed transiently (a redelivered message), for a gate that gives such calls the
// capacity a failed call booked and did not use.
func WithRetry(ctx context.Context) context.Context { return context.WithValue(ctx, retryKey{}, true) }

// IsRetry reports whether ctx was marked by WithRetry.
func IsRetry(ctx context.Context) bool { b, _ := ctx.Value(retryKey{}).(bool); return b }

// DefaultMaxTokens is the output budget of the first attempt; a truncated answer is
// retried with twice the budget, up to MaxMaxTokens.
const (
	DefaultMaxTokens = 1024
	MaxMaxTokens     = 8192
)

// Analyzer analyses one exercise with a provider: it renders the prompt, calls the
// provider through the gate, parses and validates the answer, and retries transient
// failures, repairs invalid output once and enlarges the budget of truncated output.
type Analyzer struct {
	Provider  examina.Provider
	Policy    retry.Policy
	Clock     retry.Clock // nil: the wall clock
	Gate      Gate        // nil: unbounded
	Language  string      // output language, "en" or "it"
	MaxTokens int         // first attempt's output budget; 0: DefaultMaxTokens
	// CallTimeout bounds one provider call (0: none). A context deadline, such as a
	// Lambda's, shortens it so the failure is reported before the deadline.
	CallTimeout time.Duration
	// DeadlineMargin is kept free before the context deadline (default 2s when a
	// deadline exists): no call or wait starts that would end after it.
	DeadlineMargin time.Duration
	// MaxWait, when set, bounds a retry's sleep: a longer wait (a server's
	// Retry-After) ends Analyze with a *DeferError instead (0: sleep any wait the
	// policy allows).
	MaxWait time.Duration
	Logger  *slog.Logger
	// Meter, when set, meters every call and may refuse one (a cost cap).
	Meter Meter
	// Breaker, when set, is the run's circuit breaker shared by every worker: calls
	// wait while it is open, and an exercise whose retries ran out while the provider
	// is down waits for it instead of degrading. The Runner sets it.
	Breaker *Breaker
}

// ExhaustedError says every attempt for an exercise failed. The analysis returned with
// it is the degraded default.
type ExhaustedError struct {
	Attempts int
	Last     error
	Decision retry.Decision
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("gave up after %d attempt(s) (%s): %v", e.Attempts, e.Decision.Reason, e.Last)
}

func (e *ExhaustedError) Unwrap() error { return e.Last }

// Transient reports whether the last failure was transient, so a later redelivery
// might succeed (the cloud path uses it to decide between retrying and degrading).
func (e *ExhaustedError) Transient() bool {
	return e.Decision.Action != retry.Stop || examina.KindOf(e.Last) == examina.KindTransient
}

// Analyze returns the validated analysis of ex (previous is the text of the exercise
// before it). When every attempt fails it returns the degraded default analysis and an
// *ExhaustedError. When ctx is done it returns ctx's error and no analysis worth
// storing.
func (a *Analyzer) Analyze(ctx context.Context, course examina.Course, ex examina.Exercise, previous string) (examina.Analysis, error) {
	clock := a.Clock
	if clock == nil {
		clock = retry.RealClock{}
	}
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxTokens := a.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	req := examina.Request{
		Prompt:    analysis.Build(course, a.Language, ex, previous),
		Schema:    analysis.Schema(),
		MaxTokens: maxTokens,
		Course:    course,
		Language:  a.Language,
		Exercise:  ex,
		Previous:  previous,
	}
	meta := examina.Meta{Provider: a.Provider.Name(), Model: a.Provider.Model()}
	start := clock.Now()
	var budget retry.Budget // retries spent; rate-limited ones, repairs and enlargements apart
	holds := 0              // times the breaker held this exercise instead of degrading it
	var lastErr error
	var decision retry.Decision
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return examina.Analysis{}, err
		}
		began := clock.Now()
		resp, rec, err := a.call(ctx, clock, attempt, req)
		if errors.Is(err, cost.ErrCapReached) {
			// Not an attempt: the call was not made. The exercise stays unanalysed.
			return examina.Analysis{}, err
		}
		if de := (*DeferError)(nil); errors.As(err, &de) {
			de.Attempts = attempt - 1
			return examina.Analysis{}, de
		}
		meta.Attempts = attempt
		meta.InputTokens += resp.InputTokens
		meta.OutputTokens += resp.OutputTokens
		if resp.Model != "" {
			meta.Model = resp.Model
		}
		var out examina.Analysis
		if err == nil {
			out, err = analysis.Parse(resp.Text)
			if err != nil {
				err = &examina.ProviderError{Provider: meta.Provider, Kind: examina.KindInvalid, Reason: "invalid_output", Message: err.Error(), Err: err}
			}
		}
		if err == nil {
			rec.Outcome = "ok"
			meta.AttemptLog = append(meta.AttemptLog, rec)
			meta.Status = examina.StatusOK
			meta.Heuristic = resp.Heuristic
			meta.LatencyMS = clock.Now().Sub(start).Milliseconds()
			out.Meta = meta
			return out, nil
		}
		if ctx.Err() != nil {
			return examina.Analysis{}, ctx.Err()
		}
		decision = retry.Classify(err)
		next, atContext := MaxMaxTokens, false // the largest budget an enlarged attempt may ask for
		if decision.Action == retry.Enlarge {
			next, atContext, err = a.truncated(ctx, err, req, resp)
		}
		lastErr = err
		rec.Outcome = decision.Action.String()
		rec.Error = err.Error()
		switch {
		case decision.Action == retry.Enlarge && atContext:
			decision = retry.Decision{Action: retry.Stop, Reason: "output truncated at the model's context"}
		case decision.Action == retry.Enlarge && req.MaxTokens >= next:
			decision = retry.Decision{Action: retry.Stop, Reason: fmt.Sprintf("output truncated at the largest budget, %d tokens", req.MaxTokens)}
		case decision.Action != retry.Stop && !a.Policy.Spend(&budget, err):
			switch decision.Action {
			case retry.Repair:
				decision.Reason = fmt.Sprintf("output still invalid after %d repair attempt(s)", budget.Repairs)
			case retry.Enlarge:
				decision.Reason = fmt.Sprintf("output still truncated after %d enlargement(s), at %d tokens", budget.Enlargements, req.MaxTokens)
			default:
				decision.Reason = "retries exhausted: " + decision.Reason
			}
			decision.Action = retry.Stop
			if a.Breaker != nil && holds < maxHolds && a.Breaker.Hold(err, began) {
				// The provider is down, not this exercise's request: wait for it with
				// a fresh retry budget.
				holds++
				budget.Retries = 0
				decision = retry.Decision{Action: retry.Retry, Reason: "provider down: waiting for it to answer"}
			}
		}
		switch decision.Action {
		case retry.Repair:
			req.Repair = analysis.RepairInstruction(err)
			req.Rejected = rejected(resp.Text)
		case retry.Enlarge:
			req.MaxTokens = min(req.MaxTokens*2, next)
		}
		var wait time.Duration
		if decision.Action == retry.Retry {
			var ok bool
			wait, ok = a.Policy.Backoff(budget.Total(), err)
			if !ok {
				decision = retry.Decision{Action: retry.Stop, Reason: fmt.Sprintf("server asked to wait %s, longer than allowed", wait)}
			} else if a.MaxWait > 0 && wait > a.MaxWait {
				return examina.Analysis{}, &DeferError{Wait: wait, Reason: "retry wait: " + decision.Reason, Attempts: attempt}
			} else if !a.fits(ctx, clock, wait) {
				decision = retry.Decision{Action: retry.Stop, Reason: "no time left before the deadline"}
			}
		}
		if decision.Action == retry.Stop {
			rec.Outcome = "failed"
			meta.AttemptLog = append(meta.AttemptLog, rec)
			log.LogAttrs(ctx, slog.LevelDebug, "attempt failed",
				slog.Int("position", ex.Position), slog.Int("attempt", attempt),
				slog.String("reason", decision.Reason), slog.String("error", err.Error()))
			break
		}
		rec.WaitMS = wait.Milliseconds()
		meta.WaitMS += rec.WaitMS
		meta.AttemptLog = append(meta.AttemptLog, rec)
		log.LogAttrs(ctx, slog.LevelDebug, "retrying",
			slog.Int("position", ex.Position), slog.Int("attempt", attempt),
			slog.String("action", decision.Action.String()), slog.String("reason", decision.Reason),
			slog.String("error", err.Error()), slog.Duration("wait", wait))
		if err := clock.Sleep(ctx, wait); err != nil {
			return examina.Analysis{}, err
		}
	}
	out := examina.DefaultAnalysis(lastErr.Error())
	meta.Status = examina.StatusDegraded
	meta.Error = lastErr.Error()
	meta.LatencyMS = clock.Now().Sub(start).Milliseconds()
	out.Meta = meta
	log.LogAttrs(ctx, slog.LevelWarn, "exercise degraded",
		slog.Int("position", ex.Position), slog.Int("attempts", meta.Attempts), slog.String("reason", decision.Reason),
		slog.String("error", meta.Error))
	return out, &ExhaustedError{Attempts: meta.Attempts, Last: lastErr, Decision: decision}
}

// ContextWindower is implemented by providers that can say how many tokens one request
// (prompt plus output) may use on their model, such as a local server's context per
// slot. The Analyzer caps enlarged output budgets at it and, when a truncated answer
// already filled it, stops instead of asking for a budget the model cannot give.
type ContextWindower interface {
	ContextWindow(ctx context.Context) (tokens int, ok bool)
}

// truncated explains a truncated answer: which limit it hit, the request's budget or
// the model's context (when the provider reports its window), in the message of the
// returned error; next
// is the largest budget an enlarged attempt may ask for; atContext says the context,
// not the budget, stopped the output.
func (a *Analyzer) truncated(ctx context.Context, err error, req examina.Request, resp examina.Response) (next int, atContext bool, explained error) {
	next = MaxMaxTokens
	msg := fmt.Sprintf("output hit the %d-token budget", req.MaxTokens)
	if cw, ok := a.Provider.(ContextWindower); ok {
		if window, ok := cw.ContextWindow(ctx); ok {
			prompt := resp.InputTokens
			if prompt <= 0 {
				prompt = estimateTokens(req) - req.MaxTokens
			}
			room := max(window-prompt, 0)
			next = min(next, room)
			if room <= req.MaxTokens {
				atContext = true
				msg = fmt.Sprintf("output hit the model's context of %d tokens a request (prompt %d + output %d), before the %d-token budget",
					window, prompt, resp.OutputTokens, req.MaxTokens)
			}
		}
	}
	var pe *examina.ProviderError
	if errors.As(err, &pe) && strings.Contains(strings.ToLower(pe.Code), "context_window") {
		// The provider says so itself (Anthropic's and Bedrock's stop reason
		// model_context_window_exceeded): a larger budget cannot help.
		atContext = true
		msg = fmt.Sprintf("output hit the model's context window (stop reason %s), before the %d-token budget", pe.Code, req.MaxTokens)
	}
	if pe != nil {
		cp := *pe
		cp.Message = msg
		err = &cp
	}
	return next, atContext, err
}

// call makes one provider call through the gate with a per-call timeout.
func (a *Analyzer) call(ctx context.Context, clock retry.Clock, attempt int, req examina.Request) (examina.Response, examina.Attempt, error) {
	rec := examina.Attempt{N: attempt}
	probe := false
	if a.Breaker != nil {
		var err error
		if probe, err = a.Breaker.Wait(ctx); err != nil {
			return examina.Response{}, rec, err
		}
	}
	// A probe that never reaches the provider hands the probe back, so the breaker
	// does not wait on a call that was not made.
	abandon := func() {
		if probe {
			a.Breaker.Record(req.Exercise.Position, context.Canceled, true)
		}
	}
	release := func(examina.Response, error) {}
	if r, ok := a.Gate.(Reserver); ok {
		settle, err := r.Reserve(ctx, estimateTokens(req))
		if err != nil {
			abandon()
			return examina.Response{}, rec, err
		}
		release = settle
	} else if a.Gate != nil {
		if err := a.Gate.Acquire(ctx, estimateTokens(req)); err != nil {
			abandon()
			return examina.Response{}, rec, err
		}
		release = a.Gate.Release
	}
	settle, err := a.reserve(ctx, req)
	if err != nil {
		release(examina.Response{}, err)
		abandon()
		return examina.Response{}, rec, err
	}
	cctx, cancel := a.callContext(ctx, clock)
	t0 := clock.Now()
	resp, err := a.Provider.Complete(cctx, req)
	cancel()
	settle(resp, err)
	var pe *examina.ProviderError
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &pe) {
		// A provider that did not classify its own timeout; one that did (llmhttp's
		// "timeout") is kept as it is, so the message says "timeout" once.
		err = &examina.ProviderError{Provider: a.Provider.Name(), Kind: examina.KindTransient, Reason: "timeout", Err: err}
	}
	release(resp, err)
	if a.Breaker != nil && ctx.Err() == nil {
		a.Breaker.Record(req.Exercise.Position, err, probe)
	} else if a.Breaker != nil && probe {
		a.Breaker.Record(req.Exercise.Position, context.Canceled, true)
	}
	rec.LatencyMS = clock.Now().Sub(t0).Milliseconds()
	rec.InputTokens, rec.OutputTokens = resp.InputTokens, resp.OutputTokens
	rec.HTTPStatus = resp.HTTPStatus
	if errors.As(err, &pe) && pe.HTTPStatus != 0 {
		rec.HTTPStatus = pe.HTTPStatus
	}
	return resp, rec, err
}

// reserve asks the Meter for the call's budget; without a Meter every call may start.
func (a *Analyzer) reserve(ctx context.Context, req examina.Request) (func(examina.Response, error), error) {
	if a.Meter == nil {
		return func(examina.Response, error) {}, nil
	}
	return a.Meter.Reserve(ctx, req)
}

func (a *Analyzer) margin() time.Duration {
	if a.DeadlineMargin > 0 {
		return a.DeadlineMargin
	}
	return 2 * time.Second
}

// callContext derives the per-call context: CallTimeout, shortened so the call ends
// DeadlineMargin before ctx's deadline.
func (a *Analyzer) callContext(ctx context.Context, clock retry.Clock) (context.Context, context.CancelFunc) {
	timeout := a.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		left := dl.Sub(clock.Now()) - a.margin()
		if left <= 0 {
			left = time.Millisecond
		}
		if timeout <= 0 || left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// fits reports whether waiting d still leaves time for a call before ctx's deadline.
func (a *Analyzer) fits(ctx context.Context, clock retry.Clock, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	if !ok {
		return true
	}
	return clock.Now().Add(d + 2*a.margin()).Before(dl)
}

// maxHolds bounds how often the breaker may hold one exercise instead of degrading it
// (each hold is bounded by the breaker's MaxPause), against a provider that flaps.
const maxHolds = 20

// maxRejectedBytes bounds the rejected answer sent back with a repair: the model needs
// to see what it said, not 256 KiB of junk.
const maxRejectedBytes = 16 << 10

// rejected is the answer a repair attempt quotes as the assistant's turn, cut at
// maxRejectedBytes on a rune boundary and made valid UTF-8.
func rejected(text string) string {
	text = strings.ToValidUTF8(strings.TrimSpace(text), "\uFFFD")
	if len(text) <= maxRejectedBytes {
		return text
	}
	cut := maxRejectedBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

// RateTokens is what a request costs against a tokens-per-minute limit (the Gate's
// estimate), exported for forecasts such as `examina analyze --dry-run`.
func RateTokens(req examina.Request) int { return estimateTokens(req) }

// estimateTokens is the rate-limit cost of a request: its prompt (about 4 bytes a
// token) plus its output budget.
func estimateTokens(req examina.Request) int {
	n := len(req.Prompt.System) + len(req.Prompt.User) + len(req.Repair) + len(req.Rejected)
	return n/4 + req.MaxTokens
}
