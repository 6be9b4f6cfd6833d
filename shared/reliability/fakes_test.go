package reliability

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// memJobs is an in-memory cloud.DispatchStore, for fuzzing the dispatcher without
// moto (which is too slow for thousands of inputs a second).
type memJobs struct {
	mu        sync.Mutex
	jobs      map[string]examina.Job
	exercises map[string][]examina.Exercise
	keys      map[string]string
}

func newMemJobs() *memJobs {
	return &memJobs{jobs: map[string]examina.Job{}, exercises: map[string][]examina.Exercise{}, keys: map[string]string{}}
}

func (m *memJobs) CreateJob(_ context.Context, job examina.Job, exs []examina.Exercise) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[job.ID]; ok {
		return false, nil
	}
	m.jobs[job.ID] = job
	m.exercises[job.ID] = exs
	return true, nil
}

func (m *memJobs) GetJob(_ context.Context, id string) (examina.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return examina.Job{}, examina.E("mem.GetJob", examina.KindNotFound, "job %s: %w", id, examina.ErrNotFound)
	}
	return j, nil
}

func (m *memJobs) StartFanOut(_ context.Context, id, _ string) (examina.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return examina.Job{}, examina.E("mem.StartFanOut", examina.KindNotFound, "job %s: %w", id, examina.ErrNotFound)
	}
	j.Status = examina.JobRunning
	m.jobs[id] = j
	return j, nil
}

func (m *memJobs) Exercises(_ context.Context, id string) ([]examina.Exercise, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exercises[id], nil
}

func (m *memJobs) ResultKey(_ context.Context, id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return "", examina.E("mem.ResultKey", examina.KindNotFound, "job %s has no result: %w", id, examina.ErrNotFound)
	}
	return k, nil
}

// complete marks a job completed with its result document stored under key.
func (m *memJobs) complete(id, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[id]
	j.Status = examina.JobCompleted
	j.Done = j.Total
	m.jobs[id] = j
	m.keys[id] = key
}

// memObjects is an in-memory cloud.Objects.
type memObjects struct {
	mu      sync.Mutex
	objects map[string][]byte
	gets    int
}

func newMemObjects() *memObjects { return &memObjects{objects: map[string][]byte{}} }

func (o *memObjects) Get(_ context.Context, key string, limit int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gets++
	b, ok := o.objects[key]
	if !ok {
		return nil, examina.E("mem.Get", examina.KindNotFound, "object %s: %w", key, examina.ErrNotFound)
	}
	if limit > 0 && int64(len(b)) > limit+1 {
		b = b[:limit+1]
	}
	return b, nil
}

func (o *memObjects) GetVersion(ctx context.Context, key, _ string, limit int64) ([]byte, error) {
	return o.Get(ctx, key, limit)
}

func (o *memObjects) GetJSON(ctx context.Context, key string, v any) error {
	b, err := o.Get(ctx, key, 0)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (o *memObjects) PutJSON(_ context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[key] = b
	return nil
}

func (o *memObjects) Put(_ context.Context, key string, data []byte, _ string) error {
	o.put(key, append([]byte(nil), data...))
	return nil
}

func (o *memObjects) PresignGet(_ context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	return "https://mem.invalid/" + key, time.Unix(0, 0).Add(ttl), nil
}

func (o *memObjects) put(key string, b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[key] = b
}

// memExecutions records the executions started.
type memExecutions struct {
	mu    sync.Mutex
	names []string
	input map[string]string
}

func (e *memExecutions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.input == nil {
		e.input = map[string]string{}
	}
	e.names = append(e.names, *in.Name)
	e.input[*in.Name] = *in.Input
	return &sfn.StartExecutionOutput{}, nil
}

// memQueue records the message bodies sent.
type memQueue struct {
	mu     sync.Mutex
	bodies []string
}

func (q *memQueue) SendAll(_ context.Context, bodies []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bodies = append(q.bodies, bodies...)
	return nil
}
