package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/fleetgate"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// AnalyzeStore is the store the analyze handler uses (the DynamoDB store).
type AnalyzeStore interface {
	// CountResult stores and counts a result exactly once: a redelivered result is
	// neither stored nor counted again (counted false, err nil). total is the job's
	// total from the message; when cacheKey and cache are set the cache entry is
	// written by the same request. done and jobTotal are the job's counters
	// afterwards, done -1 when they were not read (a result that is not the last).
	CountResult(ctx context.Context, jobID string, r examina.ExerciseResult, total int, cacheKey string, cache *examina.Analysis) (counted bool, done, jobTotal int, err error)
	// ClaimSignal wins the job's signalled flag once, when done >= total.
	ClaimSignal(ctx context.Context, jobID string) (taskToken string, won bool, err error)
	// ReleaseSignal clears the flag after a failed SendTaskSuccess.
	ReleaseSignal(ctx context.Context, jobID string) error
	// CacheGet reads the response cache (only for messages without a cache decision).
	CacheGet(ctx context.Context, key string) (examina.Analysis, bool, error)
}

// TaskSignaler completes the fan-out task (*sfn.Client).
type TaskSignaler interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// AnalyzerSource returns the analyzer to use; the handler calls it until it succeeds
// once and keeps the result (the provider, with its API key, is built once per cold
// start).
type AnalyzerSource func(ctx context.Context) (*pipeline.Analyzer, error)

// Analyze handles SQS batches of analyze messages.
type Analyze struct {
	Store    AnalyzeStore
	Signaler TaskSignaler
	Analyzer AnalyzerSource
	// MaxReceives is the queue's maxReceiveCount (default 3): on that receive a
	// transient failure stores the degraded default instead of failing the message.
	MaxReceives int
	// Concurrency bounds the messages of one batch analysed at once (default 1: the
	// event source's MaximumConcurrency alone bounds the provider calls in flight).
	Concurrency int
	// MinTimeLeft: a message is not started with less than this before the
	// invocation's deadline; it is reported failed and redelivered (default 10s).
	MinTimeLeft time.Duration
	// NoCache disables the response cache: cached analyses in messages are ignored,
	// nothing is read from or written to the cache.
	NoCache bool
	// Spend, when set, meters every provider call in the job's counters and enforces
	// the job's cost cap (Task.MaxCostUSD): a call that could take the job's spend over
	// it is not made, and the exercise is recorded degraded ("not analysed: cost cap
	// reached") so the job still completes.
	Spend   SpendStore
	Pricing Pricing
	// Requeue and QueueURL put messages back on the analyze queue: a deferred
	// exercise (a rate-limit slot or a server's wait beyond MaxWait) is re-sent with a
	// delay, a transiently failed one comes back after a short jittered backoff. Nil:
	// deferrals fail the message and failures wait out the visibility timeout.
	Requeue  Requeuer
	QueueURL string
	// MaxWait is the longest the analyzer sleeps for a retry (pipeline.Analyzer.MaxWait;
	// 0: the analyzer's own setting).
	MaxWait time.Duration
	// MaxDefer is how long an exercise may keep being deferred, measured from its
	// first deferral, before a deferral counts as a failed receive (default 1h).
	MaxDefer time.Duration
	// Jitter returns a number in [0, 1) for backoffs (nil: math/rand).
	Jitter func() float64
	Now    func() time.Time
	Logger *slog.Logger

	// Course, when set, reads a job's exercises for a provider that learns from the
	// whole course before it analyses one exercise (pipeline.CourseLearner: the offline
	// heuristic), so the cloud gives the topics and core loops the local command gives.
	// nil: such a provider answers from the exercise and its predecessor alone.
	Course CourseReader

	mu       sync.Mutex
	analyzer *pipeline.Analyzer
	learned  map[string]examina.Provider // by job id: a CourseLearner that learned it
}

// CourseReader reads the exercises of a job in position order (the job store).
type CourseReader interface {
	Exercises(ctx context.Context, jobID string) ([]examina.Exercise, error)
}

// maxLearned bounds how many jobs' course models one function instance keeps.
const maxLearned = 4

// learnedProvider returns a provider that learned task's course: a new one from the
// Analyzer factory, taught the job's exercises (read once per job and instance).
func (h *Analyze) learnedProvider(ctx context.Context, task Task) (examina.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.learned[task.JobID]; ok {
		return p, nil
	}
	exs, err := h.Course.Exercises(ctx, task.JobID)
	if err != nil {
		return nil, fmt.Errorf("reading the course of job %s: %w", task.JobID, err)
	}
	fresh, err := h.Analyzer(ctx)
	if err != nil {
		return nil, err
	}
	l, ok := fresh.Provider.(pipeline.CourseLearner)
	if !ok {
		return fresh.Provider, nil
	}
	if err := l.LearnCourse(ctx, examina.CourseFile{Course: task.Course, Exercises: exs}); err != nil {
		return nil, fmt.Errorf("learning the course of job %s: %w", task.JobID, err)
	}
	if h.learned == nil || len(h.learned) >= maxLearned {
		h.learned = map[string]examina.Provider{}
	}
	h.learned[task.JobID] = fresh.Provider
	return fresh.Provider, nil
}

func (h *Analyze) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Analyze) getAnalyzer(ctx context.Context) (*pipeline.Analyzer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.analyzer != nil {
		return h.analyzer, nil
	}
	a, err := h.Analyzer(ctx)
	if err != nil {
		return nil, err
	}
	h.analyzer = a
	return a, nil
}

// Handle analyses every message of the batch and returns exactly the ids of the
// messages to redeliver: those whose analysis failed transiently before their last
// receive, whose result could not be recorded, or that were not started for lack of
// time. It never returns an error: every failure is per message.
func (h *Analyze) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	before, _ := h.budgetStats()
	failed := make([]bool, len(ev.Records))
	workers := max(h.Concurrency, 1)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, rec := range ev.Records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			failed[i] = !h.one(ctx, rec)
		})
	}
	wg.Wait()
	h.logBudget(ctx, ev, before)
	for i, rec := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// budgetCounter is a gate that counts its work (the fleet budget).
type budgetCounter interface{ Stats() fleetgate.Stats }

// budgetStats returns the fleet budget's counters so far, ok false without one.
func (h *Analyze) budgetStats() (fleetgate.Stats, bool) {
	h.mu.Lock()
	a := h.analyzer
	h.mu.Unlock()
	if a == nil {
		return fleetgate.Stats{}, false
	}
	g, ok := a.Gate.(budgetCounter)
	if !ok {
		return fleetgate.Stats{}, false
	}
	return g.Stats(), true
}

// logBudget logs what the fleet budget did for this invocation: its DynamoDB
// requests, the calls it admitted and deferred, the time slept for slots. One line
// per invocation (the function instance handles one at a time), so the lines add up
// to the deployment's totals.
func (h *Analyze) logBudget(ctx context.Context, ev events.SQSEvent, before fleetgate.Stats) {
	after, ok := h.budgetStats()
	if !ok {
		return
	}
	log := discard(h.Logger)
	if len(ev.Records) == 1 {
		if t, err := ParseTask(ev.Records[0].Body); err == nil {
			log = log.With(slog.String("job_id", t.JobID), slog.Int("position", t.Position))
		}
	}
	log.LogAttrs(ctx, slog.LevelInfo, "fleet budget",
		slog.Int("budget_requests", after.Requests-before.Requests),
		slog.Int("budget_calls", after.Calls-before.Calls),
		slog.Int("budget_deferred", after.Deferred-before.Deferred),
		slog.Int("budget_unbooked", after.Unbooked-before.Unbooked),
		slog.Int("budget_conflicts", after.Conflicts-before.Conflicts),
		slog.Int("budget_past_horizon", after.PastHorizon-before.PastHorizon),
		slog.Int64("budget_waited_ms", (after.Waited-before.Waited).Milliseconds()))
}

func receiveCount(rec events.SQSMessage) int {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// one processes one message and reports whether it is done with (true) or must be
// redelivered (false).
func (h *Analyze) one(ctx context.Context, rec events.SQSMessage) bool {
	log := discard(h.Logger)
	task, err := ParseTask(rec.Body)
	if err != nil {
		// Left to the DLQ after maxReceiveCount, which keeps the raw message.
		log.LogAttrs(ctx, slog.LevelError, "malformed message", slog.String("job_id", ""), slog.Int("position", -1),
			slog.String("message_id", rec.MessageId), slog.String("error", err.Error()))
		return false
	}
	log = log.With(slog.String("job_id", task.JobID), slog.Int("position", task.Position))
	receives := receiveCount(rec)
	maxReceives := h.MaxReceives
	if maxReceives <= 0 {
		maxReceives = 3
	}
	last := receives >= maxReceives
	var (
		a        examina.Analysis
		cacheKey string
	)
	if h.timeLeft(ctx) {
		actx := ctx
		if receives > 1 || task.Deferral != nil && task.Deferral.Attempts > 0 {
			// Redelivered after a failure, or deferred after calls that did not
			// succeed (a retry's backoff over MaxWait): the fleet budget may give its
			// call the slot a failed call left unused rather than queue it behind every
			// booked one.
			actx = pipeline.WithRetry(ctx)
		}
		a, cacheKey, err = h.analyze(actx, log, task, last)
		if de := (*pipeline.DeferError)(nil); errors.As(err, &de) {
			if h.deferTask(ctx, log, task, de) {
				return true // the re-sent copy carries on; this one is deleted
			}
			if last {
				a, err = examina.DefaultAnalysis("deferred past the job's time: "+de.Reason), nil
			}
		}
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "analysis failed: message will be redelivered",
				slog.Int("receive", receives), slog.String("error", err.Error()))
			h.backoff(ctx, log, rec, receives)
			return false
		}
	} else {
		if !last {
			log.LogAttrs(ctx, slog.LevelWarn, "not enough time left: message returned to the queue")
			h.backoff(ctx, log, rec, receives)
			return false
		}
		// No redelivery follows the last receive: count the degraded default now rather
		// than leave the exercise uncounted in the DLQ (the job must always complete).
		log.LogAttrs(ctx, slog.LevelWarn, "not enough time left on the last receive: degraded default recorded")
		a = examina.DefaultAnalysis("not enough time left on the last receive")
	}
	res := examina.ExerciseResult{Exercise: task.Exercise, Analysis: a}
	var cache *examina.Analysis
	if cacheKey != "" {
		cache = &a
	}
	counted, done, total, err := h.record(ctx, log, task, res, cacheKey, cache, last)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelError, "recording result failed", slog.String("error", err.Error()), slog.Bool("last_receive", last))
		h.backoff(ctx, log, rec, receives)
		return false
	}
	log.LogAttrs(ctx, slog.LevelInfo, "result recorded", slog.Bool("counted", counted), slog.String("status", string(a.Status)),
		slog.Int("done", done), slog.Int("total", total), slog.Int("receive", receives))
	if done < total {
		return true
	}
	return h.signal(ctx, log, task.JobID, done, total)
}

// timeLeft reports whether the invocation has at least MinTimeLeft (default 10s)
// before its deadline to analyse a message.
func (h *Analyze) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	if !ok {
		return true
	}
	left := h.MinTimeLeft
	if left <= 0 {
		left = 10 * time.Second
	}
	return dl.Sub(h.now()) >= left
}

// record stores and counts the result, with its cache entry when cacheKey is set.
// Before the last receive one attempt is made (a failure redelivers the message). On
// the last receive there is no redelivery to fall back on, only the DLQ, so recording
// is retried with backoff for as long as the deadline allows: sustained DynamoDB
// throttling must not lose the exercise's count.
func (h *Analyze) record(ctx context.Context, log *slog.Logger, task Task, res examina.ExerciseResult, cacheKey string, cache *examina.Analysis, last bool) (counted bool, done, total int, err error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		counted, done, total, err = h.Store.CountResult(ctx, task.JobID, res, task.Total, cacheKey, cache)
		if err == nil || !last || ctx.Err() != nil {
			return counted, done, total, err
		}
		if dl, ok := ctx.Deadline(); ok && h.now().Add(wait+time.Second).After(dl) {
			return counted, done, total, err
		}
		log.LogAttrs(ctx, slog.LevelWarn, "recording on the last receive failed: retrying",
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return counted, done, total, err
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// analyze returns the exercise's analysis: from the message's cache decision, from
// the cache, from the provider, or the degraded default when the failure is permanent
// or this is the last receive. cacheKey is set when the analysis is fresh from the
// provider and should be cached (with the result, in one write). An error means the
// message should be redelivered.
func (h *Analyze) analyze(ctx context.Context, log *slog.Logger, task Task, last bool) (a examina.Analysis, cacheKey string, err error) {
	if !h.NoCache && task.Cached != nil {
		c := *task.Cached
		c.Status = examina.StatusCached
		return c, "", nil
	}
	base, err := h.getAnalyzer(ctx)
	if err != nil {
		if last {
			return examina.DefaultAnalysis("no provider: " + err.Error()), "", nil
		}
		return examina.Analysis{}, "", fmt.Errorf("building the provider: %w", err)
	}
	an := *base
	an.Language = analysis.NormalizeLanguage(task.Course.Language)
	an.Logger = log
	if _, ok := an.Provider.(pipeline.CourseLearner); ok && h.Course != nil {
		p, err := h.learnedProvider(ctx, task)
		if err != nil {
			if last {
				return examina.DefaultAnalysis("course not learned: " + err.Error()), "", nil
			}
			return examina.Analysis{}, "", err
		}
		an.Provider = p
	}
	if h.Spend != nil {
		an.Meter = newJobMeter(h.Spend, task.JobID, h.Pricing.Quote(an.Provider.Name(), an.Provider.Model()), task.MaxCostUSD, log)
	}
	if h.MaxWait > 0 {
		an.MaxWait = h.MaxWait
	}
	if d := task.Deferral; d != nil {
		ctx = pipeline.WithSlot(ctx, d.Slot)
	}
	key := CacheKey(an.Provider.Name(), an.Provider.Model(), task)
	if !h.NoCache && !task.CacheChecked {
		// A message without a cache decision (from an older dispatcher).
		if c, ok, err := h.Store.CacheGet(ctx, key); err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "cache read failed", slog.String("error", err.Error()))
		} else if ok {
			c.Status = examina.StatusCached
			return c, "", nil
		}
	}
	a, err = an.Analyze(ctx, task.Course, task.Exercise, task.Previous)
	if d := task.Deferral; d != nil && err == nil {
		a.Meta.Attempts += d.Attempts // the calls of earlier deliveries
	}
	var exhausted *pipeline.ExhaustedError
	switch {
	case err == nil:
		if h.NoCache || a.Status == examina.StatusDegraded {
			key = ""
		}
		return a, key, nil
	case errors.Is(err, cost.ErrCapReached):
		// No redelivery: the cap will not rise for this job. Recorded so the job completes.
		log.LogAttrs(ctx, slog.LevelWarn, "cost cap reached: exercise not analysed", slog.String("error", err.Error()))
		d := examina.DefaultAnalysis("not analysed: " + err.Error())
		d.Provider, d.Model = an.Provider.Name(), an.Provider.Model()
		return d, "", nil
	case errors.As(err, &exhausted):
		if exhausted.Transient() && !last {
			return examina.Analysis{}, "", err
		}
		log.LogAttrs(ctx, slog.LevelWarn, "exercise degraded", slog.Bool("last_receive", last), slog.Bool("transient", exhausted.Transient()))
		return a, "", nil
	}
	return examina.Analysis{}, "", err
}

// signal completes the fan-out task if this invocation wins the signalled flag.
func (h *Analyze) signal(ctx context.Context, log *slog.Logger, jobID string, done, total int) bool {
	token, won, err := h.Store.ClaimSignal(ctx, jobID)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelError, "claiming the signal failed", slog.String("error", err.Error()))
		return false
	}
	if !won {
		return true
	}
	release := func(why string, err error) bool {
		log.LogAttrs(ctx, slog.LevelError, why, slog.String("error", err.Error()))
		if rerr := h.Store.ReleaseSignal(context.WithoutCancel(ctx), jobID); rerr != nil {
			log.LogAttrs(ctx, slog.LevelError, "releasing the signal failed", slog.String("error", rerr.Error()))
		}
		return false
	}
	if token == "" {
		return release("job has no task token", errors.New("no task token"))
	}
	out, err := json.Marshal(FanOutOutput{JobID: jobID, Done: done, Total: total})
	if err != nil {
		return release("encoding task output failed", err)
	}
	output := string(out)
	_, err = h.Signaler.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: &output})
	var timedOut *sfntypes.TaskTimedOut
	var gone *sfntypes.TaskDoesNotExist
	var badToken *sfntypes.InvalidToken
	switch {
	case err == nil:
		log.LogAttrs(ctx, slog.LevelInfo, "all results in: task signalled", slog.Int("done", done), slog.Int("total", total))
		return true
	case errors.As(err, &timedOut), errors.As(err, &gone), errors.As(err, &badToken):
		// The wait already timed out: the state machine's check loop takes over.
		log.LogAttrs(ctx, slog.LevelWarn, "task no longer waiting; the state machine's check loop continues", slog.String("error", err.Error()))
		return true
	}
	return release("SendTaskSuccess failed", err)
}
