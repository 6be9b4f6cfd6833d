package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// BatchWriter is implemented by stores that can write many results and cache entries
// in one transaction. The Runner uses it when available: one commit per batch instead
// of two per exercise.
type BatchWriter interface {
	PutBatch(ctx context.Context, jobID string, rs []examina.ExerciseResult, cache map[string]examina.Analysis) error
}

// done is a finished exercise on its way to the store.
type done struct {
	res      examina.ExerciseResult
	cacheKey string // non-empty: also cache the analysis under this key
}

// CourseLearner is a provider that learns from the whole course before it is asked
// about any exercise (the offline heuristic: topics are clustered over the course).
// The Runner calls LearnCourse once per Run, before the first exercise; a provider
// used without it (the cloud's analyze function sees one exercise per message) must
// still answer.
type CourseLearner interface {
	LearnCourse(ctx context.Context, cf examina.CourseFile) error
}

// Progress receives the Runner's progress. Calls come from one goroutine at a time.
type Progress interface {
	// Start is called once: total exercises, how many are already done (resumed), and
	// how many will be processed now.
	Start(total, resumed, todo int)
	// Done is called once per processed exercise, in completion order.
	Done(r examina.ExerciseResult)
	// Finish is called once at the end, even after an interruption.
	Finish()
}

// Runner runs a whole course in one process: a sliding window of BatchSize workers (a
// new exercise starts the moment one finishes), the response cache, resumable results
// in the Store, and the ordered merge at the end.
type Runner struct {
	Store    examina.Store
	Analyzer *Analyzer
	// BatchSize bounds the exercises in progress, hence the provider calls in flight
	// (default 10). 1 is sequential.
	BatchSize int
	// Force re-analyses every exercise, ignoring stored results and the cache.
	Force bool
	// RetryDegraded re-analyses exercises whose stored analysis is degraded.
	RetryDegraded bool
	// MinConfidence is the aggregation threshold (default 0.5).
	MinConfidence float64
	Progress      Progress
	Clock         retry.Clock
	Logger        *slog.Logger
	// FlushEvery bounds how many finished results wait in memory before being written
	// (default 64); they are also written at least every 200ms.
	FlushEvery int
	// Cost, when set, meters every provider call of the run (it becomes the Analyzer's
	// Meter unless that has one) and fills the result's stats.cost; the job record
	// keeps the spend of all its runs, which Run carries into Cost so its cap holds
	// for the job (not with Force). When the cap refuses a call, no further exercise
	// starts, the calls in flight finish and are stored, and Run returns a
	// *BudgetError.
	Cost *cost.Ledger
	// Breaker, when set, configures the run's circuit breaker: a provider that is down
	// pauses every worker (bounded by MaxPause) instead of degrading every exercise.
	// The Progress is told of pauses when it implements PauseReporter. nil: none.
	Breaker *BreakerConfig
}

// BudgetError says a run stopped at its cost cap. Everything finished is stored;
// running again with a higher cap resumes.
type BudgetError struct {
	Cap *cost.CapError
	// Done is the number of exercises stored for the job (earlier runs included) and
	// Total the course's; Analyzed is how many this run finished.
	Done, Total, Analyzed int
	// Cost is this run's spend.
	Cost examina.Cost
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v; %d of %d exercises are analysed and stored", e.Cap, e.Done, e.Total)
}

func (e *BudgetError) Unwrap() error { return e.Cap }

// Run analyses cf and returns its result document, also stored in the Store. On
// interruption (ctx done) every finished exercise is already stored, the job is marked
// cancelled, and Run returns ctx's error: running again resumes.
func (r *Runner) Run(ctx context.Context, cf examina.CourseFile) (examina.Result, error) {
	clock := r.Clock
	if clock == nil {
		clock = retry.RealClock{}
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	started := clock.Now()
	prov := r.Analyzer.Provider
	// A provider that learns from the whole course (the offline heuristic) sees it
	// before the first exercise, and before its model name enters the job id.
	if l, ok := prov.(CourseLearner); ok {
		if err := l.LearnCourse(ctx, cf); err != nil {
			return examina.Result{}, fmt.Errorf("provider %s learning the course: %w", prov.Name(), err)
		}
	}
	job := examina.Job{
		ID:            JobID(cf, analysis.PromptVersion, prov.Name(), prov.Model(), r.Analyzer.Language),
		Course:        cf.Course,
		Provider:      prov.Name(),
		Model:         prov.Model(),
		PromptVersion: analysis.PromptVersion,
		Status:        examina.JobRunning,
		Total:         len(cf.Exercises),
		CreatedAt:     started.UTC(),
	}
	log = log.With(slog.String("job_id", job.ID))
	// The Analyzer logs through the job's logger, so every line carries the job id
	// (and the Analyzer adds the exercise's position).
	an := *r.Analyzer
	an.Logger = log
	if r.Cost != nil && an.Meter == nil {
		an.Meter = r.Cost
	}
	if r.Breaker != nil {
		rep := pauseLog{log: log}
		if pr, ok := r.Progress.(PauseReporter); ok {
			rep.next = pr
		}
		an.Breaker = NewBreaker(*r.Breaker, an.Clock, rep)
	}

	existing := map[int]examina.ExerciseResult{}
	if prev, err := r.Store.GetJob(ctx, job.ID); err == nil {
		job.CreatedAt = prev.CreatedAt
		if r.Cost != nil && prev.Spend != nil && !r.Force {
			// The cap is the job's: earlier runs' spend counts (--force starts over).
			r.Cost.Carry(*prev.Spend)
		}
		if r.Force {
			if err := r.Store.DeleteResults(ctx, job.ID); err != nil {
				return examina.Result{}, fmt.Errorf("clearing results for --force: %w", err)
			}
		} else {
			stored, err := r.Store.Results(ctx, job.ID)
			if err != nil {
				return examina.Result{}, fmt.Errorf("reading stored results: %w", err)
			}
			for _, s := range stored {
				existing[s.Position] = s
			}
		}
	} else if !examina.IsNotFound(err) {
		return examina.Result{}, fmt.Errorf("reading job %s: %w", job.ID, err)
	}

	var todo []int
	for i, ex := range cf.Exercises {
		s, ok := existing[i]
		if ok && s.ID == ex.ID && (s.Analysis.Status != examina.StatusDegraded || !r.RetryDegraded) {
			continue
		}
		todo = append(todo, i)
	}
	resumed := len(cf.Exercises) - len(todo)
	job.Done = resumed
	job.UpdatedAt = clock.Now().UTC()
	if err := r.Store.PutJob(ctx, job); err != nil {
		return examina.Result{}, fmt.Errorf("recording job: %w", err)
	}
	if r.Progress != nil {
		r.Progress.Start(len(cf.Exercises), resumed, len(todo))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "run started", slog.Int("exercises", len(cf.Exercises)),
		slog.Int("resumed", resumed), slog.Int("todo", len(todo)), slog.String("provider", job.Provider))

	counts, runErr := r.analyzeAll(ctx, &an, job, cf, todo)
	if r.Progress != nil {
		r.Progress.Finish()
	}
	// The job record is updated with a fresh context: an interrupted run must still
	// say so in the store.
	bg := context.WithoutCancel(ctx)
	var capErr *cost.CapError
	if errors.As(runErr, &capErr) {
		be := &BudgetError{Cap: capErr, Done: resumed + counts.done, Total: len(cf.Exercises), Analyzed: counts.done}
		if r.Cost != nil {
			be.Cost = r.Cost.Report(counts.keptIn, counts.keptOut)
		}
		runErr = be
	}
	if r.Cost != nil {
		sp := r.Cost.JobSpend()
		job.Spend = &sp
	}
	if runErr != nil {
		job.Status = examina.JobCancelled
		if !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, context.DeadlineExceeded) && !errors.Is(runErr, cost.ErrCapReached) {
			job.Status = examina.JobFailed
		}
		job.Reason = runErr.Error()
		job.Done = resumed + counts.done
		job.UpdatedAt = clock.Now().UTC()
		if err := r.Store.PutJob(bg, job); err != nil {
			log.LogAttrs(bg, slog.LevelError, "recording interrupted job", slog.String("error", err.Error()))
		}
		return examina.Result{}, runErr
	}

	results, err := r.Store.Results(ctx, job.ID)
	if err != nil {
		return examina.Result{}, fmt.Errorf("reading results for the merge: %w", err)
	}
	if len(results) != len(cf.Exercises) {
		return examina.Result{}, examina.E("pipeline.Run", examina.KindInternal,
			"job %s has %d stored results for %d exercises", job.ID, len(results), len(cf.Exercises))
	}
	minConf := r.MinConfidence
	if minConf <= 0 {
		minConf = 0.5
	}
	res := Assemble(job, results, minConf)
	res.Stats.ProviderCalls = counts.calls
	res.Stats.Retries = counts.retries
	res.Stats.CacheHits = counts.cacheHits
	res.Stats.Resumed = resumed
	res.Stats.InputTokens = counts.inTokens
	res.Stats.OutputTokens = counts.outTokens
	res.Stats.WaitMS = counts.waitMS
	res.Stats.ElapsedMS = clock.Now().Sub(started).Milliseconds()
	if r.Cost != nil {
		c := r.Cost.Report(counts.keptIn, counts.keptOut)
		res.Stats.Cost = &c
	}
	if err := r.Store.PutOutput(bg, res); err != nil {
		return examina.Result{}, fmt.Errorf("storing the result document: %w", err)
	}
	job.Status = examina.JobCompleted
	job.Done = len(cf.Exercises)
	job.Degraded = res.Stats.Degraded
	job.Reason = ""
	job.UpdatedAt = clock.Now().UTC()
	if err := r.Store.PutJob(bg, job); err != nil {
		return examina.Result{}, fmt.Errorf("recording the completed job: %w", err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "run completed", slog.Int("merged_groups", res.Stats.MergedGroups),
		slog.Int("provider_calls", counts.calls), slog.Int64("elapsed_ms", res.Stats.ElapsedMS))
	return res, nil
}

// runCounts are the figures of this run only.
type runCounts struct {
	done, calls, retries, cacheHits int
	inTokens, outTokens             int
	waitMS                          int64
	// keptIn and keptOut are the tokens of the attempts whose answers were kept.
	keptIn, keptOut int
}

func (c *runCounts) add(a examina.Analysis) {
	c.done++
	if a.Status == examina.StatusCached {
		c.cacheHits++
		return
	}
	c.calls += a.Attempts
	c.retries += max(a.Attempts-1, 0)
	c.inTokens += a.InputTokens
	c.outTokens += a.OutputTokens
	c.waitMS += a.WaitMS
	if n := len(a.AttemptLog); a.Status == examina.StatusOK && n > 0 {
		c.keptIn += a.AttemptLog[n-1].InputTokens
		c.keptOut += a.AttemptLog[n-1].OutputTokens
	}
}

// analyzeAll runs the sliding window over todo and writes results as they finish.
func (r *Runner) analyzeAll(ctx context.Context, an *Analyzer, job examina.Job, cf examina.CourseFile, todo []int) (runCounts, error) {
	var counts runCounts
	if len(todo) == 0 {
		return counts, nil
	}
	workers := r.BatchSize
	if workers <= 0 {
		workers = 10
	}
	workers = min(workers, len(todo))

	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	finished := make(chan done, workers)
	// stop is closed when the cost cap refuses a call: no exercise starts after it,
	// those in progress finish (their calls may still fit the cap).
	stop := make(chan struct{})
	var capOnce sync.Once
	var capErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				select {
				case <-stop:
					continue
				default:
				}
				res, err := r.one(wctx, an, job, cf, i)
				if errors.Is(err, cost.ErrCapReached) {
					capOnce.Do(func() { capErr = err; close(stop) })
					continue
				}
				if err != nil {
					if wctx.Err() == nil {
						cancel(err)
					}
					return
				}
				finished <- res
			}
		})
	}
	go func() {
		defer close(next)
		for _, i := range todo {
			select {
			case next <- i:
			case <-wctx.Done():
				return
			case <-stop:
				return
			}
		}
	}()
	go func() { wg.Wait(); close(finished) }()

	flushEvery := r.FlushEvery
	if flushEvery <= 0 {
		flushEvery = 64
	}
	var pending []examina.ExerciseResult
	cache := map[string]examina.Analysis{}
	var writeErr error
	flush := func() {
		if len(pending) == 0 || writeErr != nil {
			return
		}
		// Written with a context that survives Ctrl-C: finished work is never lost.
		if err := r.write(context.WithoutCancel(ctx), job.ID, pending, cache); err != nil {
			writeErr = err
			cancel(err)
			return
		}
		pending = pending[:0]
		clear(cache)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case d, ok := <-finished:
			if !ok {
				break loop
			}
			counts.add(d.res.Analysis)
			pending = append(pending, d.res)
			if d.cacheKey != "" {
				cache[d.cacheKey] = d.res.Analysis
			}
			if r.Progress != nil {
				r.Progress.Done(d.res)
			}
			if len(pending) >= flushEvery {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
	flush()
	if writeErr != nil {
		return counts, fmt.Errorf("storing results: %w", writeErr)
	}
	if err := context.Cause(wctx); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return counts, err
	}
	if err := ctx.Err(); err != nil {
		return counts, err
	}
	if capErr != nil {
		return counts, capErr
	}
	return counts, nil
}

// one analyses exercise i, through the cache unless forced. It returns an error only
// when the run must stop (interruption, store failure).
func (r *Runner) one(ctx context.Context, an *Analyzer, job examina.Job, cf examina.CourseFile, i int) (done, error) {
	ex := cf.Exercises[i]
	prev := cf.Previous(i)
	key := analysis.CacheKey(job.PromptVersion, job.Provider, job.Model, an.Language, cf.Course, ex.Text, prev)
	if !r.Force {
		a, ok, err := r.Store.CacheGet(ctx, key)
		if err != nil {
			return done{}, fmt.Errorf("reading the cache: %w", err)
		}
		if ok {
			a.Status = examina.StatusCached
			return done{res: examina.ExerciseResult{Exercise: ex, Analysis: a}}, nil
		}
	}
	a, err := an.Analyze(ctx, cf.Course, ex, prev)
	var exhausted *ExhaustedError
	switch {
	case err == nil:
		return done{res: examina.ExerciseResult{Exercise: ex, Analysis: a}, cacheKey: key}, nil
	case errors.As(err, &exhausted):
		// Degraded: stored so the job completes, never cached.
		return done{res: examina.ExerciseResult{Exercise: ex, Analysis: a}}, nil
	default:
		return done{}, err
	}
}

func (r *Runner) write(ctx context.Context, jobID string, rs []examina.ExerciseResult, cache map[string]examina.Analysis) error {
	if bw, ok := r.Store.(BatchWriter); ok {
		return bw.PutBatch(ctx, jobID, rs, cache)
	}
	for _, res := range rs {
		if err := r.Store.PutResult(ctx, jobID, res); err != nil {
			return err
		}
	}
	for k, a := range cache {
		if err := r.Store.CachePut(ctx, k, a); err != nil {
			return err
		}
	}
	return nil
}

// pauseLog logs the breaker's pauses and passes them on.
type pauseLog struct {
	log  *slog.Logger
	next PauseReporter
}

func (p pauseLog) Paused(since time.Time, err error) {
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "provider down: run paused", slog.String("error", err.Error()))
	if p.next != nil {
		p.next.Paused(since, err)
	}
}

func (p pauseLog) Resumed(paused time.Duration, gaveUp bool) {
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "run resumed", slog.Duration("paused", paused), slog.Bool("gave_up", gaveUp))
	if p.next != nil {
		p.next.Resumed(paused, gaveUp)
	}
}
