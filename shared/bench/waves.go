package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// Waves analyses cf the way the original tool did, kept only as a benchmark baseline:
// batches of size exercises start together, and the next batch starts only when the
// slowest call of the current one has finished. Each finished batch is written to st in
// one go (one transaction when st is a pipeline.BatchWriter), and the result document
// is assembled and stored as the Runner does, so the two schedules differ only in how
// calls are scheduled. Degraded exercises are stored, not errors; ctx ending or a
// store failure stops the run with an error.
func Waves(ctx context.Context, st examina.Store, a *pipeline.Analyzer, cf examina.CourseFile, size int, minConfidence float64) (examina.Result, error) {
	if size <= 0 {
		return examina.Result{}, examina.E("bench.Waves", examina.KindInvalid, "batch size %d must be positive", size)
	}
	started := time.Now()
	prov := a.Provider
	job := examina.Job{
		ID:            pipeline.JobID(cf, analysis.PromptVersion, prov.Name(), prov.Model(), a.Language),
		Course:        cf.Course,
		Provider:      prov.Name(),
		Model:         prov.Model(),
		PromptVersion: analysis.PromptVersion,
		Status:        examina.JobRunning,
		Total:         len(cf.Exercises),
		CreatedAt:     started.UTC(),
		UpdatedAt:     started.UTC(),
	}
	if err := st.PutJob(ctx, job); err != nil {
		return examina.Result{}, fmt.Errorf("recording job: %w", err)
	}
	var calls, retries int
	for lo := 0; lo < len(cf.Exercises); lo += size {
		hi := min(lo+size, len(cf.Exercises))
		batch := make([]examina.ExerciseResult, hi-lo)
		errs := make([]error, hi-lo)
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			wg.Go(func() {
				ex := cf.Exercises[i]
				an, err := a.Analyze(ctx, cf.Course, ex, cf.Previous(i))
				var exhausted *pipeline.ExhaustedError
				if err != nil && !errors.As(err, &exhausted) {
					errs[i-lo] = err
					return
				}
				batch[i-lo] = examina.ExerciseResult{Exercise: ex, Analysis: an}
			})
		}
		wg.Wait() // the wave ends with its slowest call
		if err := errors.Join(errs...); err != nil {
			return examina.Result{}, err
		}
		for _, r := range batch {
			calls += r.Analysis.Attempts
			retries += max(r.Analysis.Attempts-1, 0)
		}
		if err := writeBatch(ctx, st, job.ID, batch); err != nil {
			return examina.Result{}, fmt.Errorf("storing results: %w", err)
		}
	}
	results, err := st.Results(ctx, job.ID)
	if err != nil {
		return examina.Result{}, fmt.Errorf("reading results for the merge: %w", err)
	}
	res := pipeline.Assemble(job, results, minConfidence)
	res.Stats.ProviderCalls = calls
	res.Stats.Retries = retries
	res.Stats.ElapsedMS = time.Since(started).Milliseconds()
	if err := st.PutOutput(ctx, res); err != nil {
		return examina.Result{}, fmt.Errorf("storing the result document: %w", err)
	}
	job.Status, job.Done, job.Degraded, job.UpdatedAt = examina.JobCompleted, len(results), res.Stats.Degraded, time.Now().UTC()
	if err := st.PutJob(ctx, job); err != nil {
		return examina.Result{}, fmt.Errorf("recording the completed job: %w", err)
	}
	return res, nil
}

func writeBatch(ctx context.Context, st examina.Store, jobID string, rs []examina.ExerciseResult) error {
	if bw, ok := st.(pipeline.BatchWriter); ok {
		return bw.PutBatch(ctx, jobID, rs, nil)
	}
	for _, r := range rs {
		if err := st.PutResult(ctx, jobID, r); err != nil {
			return err
		}
	}
	return nil
}
