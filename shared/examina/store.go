package examina

import "context"

// Store persists jobs, per-exercise results, result documents and the response cache.
// Implementations: the embedded bbolt store (local) and DynamoDB (cloud). Every
// implementation passes the conformance suite in shared/testkit/storetest.
type Store interface {
	// PutJob creates or replaces a job record.
	PutJob(ctx context.Context, job Job) error
	// GetJob returns the job, or an error for which IsNotFound is true.
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns every job, newest first.
	ListJobs(ctx context.Context) ([]Job, error)

	// PutResult stores (or replaces) the result of one exercise of a job.
	PutResult(ctx context.Context, jobID string, r ExerciseResult) error
	// Results returns the job's stored results in position order (none: empty slice).
	Results(ctx context.Context, jobID string) ([]ExerciseResult, error)
	// DeleteResults removes every stored result of the job (used by --force).
	DeleteResults(ctx context.Context, jobID string) error

	// PutOutput stores the job's result document.
	PutOutput(ctx context.Context, res Result) error
	// GetOutput returns the job's result document, or an IsNotFound error.
	GetOutput(ctx context.Context, jobID string) (Result, error)

	// CacheGet returns the cached analysis for key; ok is false on a miss.
	CacheGet(ctx context.Context, key string) (a Analysis, ok bool, err error)
	// CachePut stores an analysis under key.
	CachePut(ctx context.Context, key string, a Analysis) error
}
