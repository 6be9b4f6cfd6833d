package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// MergeStore is the store the Merger uses (the DynamoDB store).
type MergeStore interface {
	GetJob(ctx context.Context, id string) (examina.Job, error)
	Results(ctx context.Context, jobID string) ([]examina.ExerciseResult, error)
	// PutMerged writes the merged exercises, topics and core loops of res.
	PutMerged(ctx context.Context, res examina.Result) error
	// CompleteJob marks the job completed with the key of its result document.
	CompleteJob(ctx context.Context, jobID, resultKey string) error
}

// Merger is the merge task: it builds the result document from a job's results with
// pipeline.Assemble, exactly as the local pipeline does, writes it to S3 with its HTML
// report beside it (ReportKey), writes the merged items to the table, and marks the
// job completed.
type Merger struct {
	Store         MergeStore
	Objects       Objects
	ResultsPrefix string  // default "results/"
	MinConfidence float64 // default 0.5
	// Pricing prices the job's spend counters into the result's stats.cost.
	Pricing Pricing
	Now     func() time.Time
	Logger  *slog.Logger
}

// ResultKey is where a job's result document is written: {prefix}{course}/{job}.json.
func ResultKey(prefix, courseCode, jobID string) string {
	if prefix == "" {
		prefix = "results/"
	}
	return prefix + courseCode + "/" + jobID + ".json"
}

// Merge merges the job's results. An unknown job is an *InvalidInputError; missing
// results or a transient failure a *MergeRetryableError.
func (m *Merger) Merge(ctx context.Context, in MergeInput) (MergeOutput, error) {
	const op = "cloud.Merge"
	if !ValidJobID(in.JobID) {
		return MergeOutput{}, invalid(op, "merge task needs a valid job_id")
	}
	log := discard(m.Logger).With(slog.String("job_id", in.JobID))
	retryable := func(err error) error {
		if examina.KindOf(err) == examina.KindTransient {
			return &MergeRetryableError{Err: err}
		}
		return err
	}
	job, err := m.Store.GetJob(ctx, in.JobID)
	if examina.IsNotFound(err) {
		return MergeOutput{}, &InvalidInputError{Err: err}
	}
	if err != nil {
		return MergeOutput{}, retryable(err)
	}
	results, err := m.Store.Results(ctx, in.JobID)
	if err != nil {
		return MergeOutput{}, retryable(err)
	}
	if len(results) != job.Total {
		return MergeOutput{}, &MergeRetryableError{Err: examina.E(op, examina.KindTransient,
			"job %s has %d of %d results", in.JobID, len(results), job.Total)}
	}
	minConf := m.MinConfidence
	if minConf <= 0 {
		minConf = 0.5
	}
	res := pipeline.Assemble(job, results, minConf)
	AddRunStats(&res.Stats, results)
	keptIn, keptOut := KeptTokens(results)
	res.Stats.Cost = JobCost(job, m.Pricing.Quote(job.Provider, job.Model), keptIn, keptOut)
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	if !job.CreatedAt.IsZero() {
		res.Stats.ElapsedMS = max(now.Sub(job.CreatedAt).Milliseconds(), 0)
	}
	key := ResultKey(m.ResultsPrefix, job.Course.Code, job.ID)
	if err := m.Objects.PutJSON(ctx, key, res); err != nil {
		return MergeOutput{}, retryable(fmt.Errorf("%s: writing %s: %w", op, key, err))
	}
	// The course map as a page, beside the JSON (GET /analyses/{job}/report).
	reportKey, err := putReport(ctx, m.Objects, key, res)
	if err != nil {
		return MergeOutput{}, retryable(fmt.Errorf("%s: writing %s: %w", op, reportKey, err))
	}
	if err := m.Store.PutMerged(ctx, res); err != nil {
		return MergeOutput{}, retryable(fmt.Errorf("%s: %w", op, err))
	}
	if err := m.Store.CompleteJob(ctx, job.ID, key); err != nil {
		return MergeOutput{}, retryable(fmt.Errorf("%s: %w", op, err))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "job merged", slog.Int("merged_groups", len(res.MergedExercises)),
		slog.Int("topics", len(res.Topics)), slog.Int("core_loops", len(res.CoreLoops)), slog.String("result_key", key), slog.String("report_key", reportKey))
	return MergeOutput{JobID: job.ID, Status: string(examina.JobCompleted), ResultKey: key,
		MergedGroups: len(res.MergedExercises), Topics: len(res.Topics), CoreLoops: len(res.CoreLoops)}, nil
}

// AddRunStats adds the figures the analyses carry (provider calls, retries, cache
// hits, tokens, waits) to st, as the local Runner counts them.
func AddRunStats(st *examina.Stats, results []examina.ExerciseResult) {
	for _, r := range results {
		a := r.Analysis
		if a.Status == examina.StatusCached {
			st.CacheHits++
			continue
		}
		st.ProviderCalls += a.Attempts
		st.Retries += max(a.Attempts-1, 0)
		st.InputTokens += a.InputTokens
		st.OutputTokens += a.OutputTokens
		st.WaitMS += a.WaitMS
	}
}
