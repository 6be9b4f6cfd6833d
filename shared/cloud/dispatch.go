package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// DispatchStore is the job store the Dispatcher uses (the DynamoDB store).
type DispatchStore interface {
	// CreateJob records the job and its exercises; created is false (and err nil) when
	// the job already exists.
	CreateJob(ctx context.Context, job examina.Job, exercises []examina.Exercise) (created bool, err error)
	// GetJob returns the job or a KindNotFound error.
	GetJob(ctx context.Context, id string) (examina.Job, error)
	// StartFanOut stores the task token on a pending or running job and marks it
	// running; KindNotFound or KindConflict otherwise.
	StartFanOut(ctx context.Context, jobID, taskToken string) (examina.Job, error)
	// Exercises returns the job's exercises in position order.
	Exercises(ctx context.Context, jobID string) ([]examina.Exercise, error)
	// ResultKey returns the S3 key of the completed job's result document.
	ResultKey(ctx context.Context, jobID string) (string, error)
}

// CacheLookup reads many response cache entries at once (the DynamoDB store's
// CacheGetMany): hits by key, misses absent.
type CacheLookup interface {
	CacheGetMany(ctx context.Context, keys []string) (map[string]examina.Analysis, error)
}

// Objects reads and writes the bucket's objects (the S3 adapter).
type Objects interface {
	// Get returns at most limit+1 bytes of the object; KindNotFound when missing.
	Get(ctx context.Context, key string, limit int64) ([]byte, error)
	// GetVersion is Get of one version ("" the newest); KindNotFound when missing.
	GetVersion(ctx context.Context, key, versionID string, limit int64) ([]byte, error)
	// GetJSON decodes the object at key; KindNotFound when missing.
	GetJSON(ctx context.Context, key string, v any) error
	// PutJSON writes v as JSON at key.
	PutJSON(ctx context.Context, key string, v any) error
	// Put writes data at key with the given content type.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// PresignGet returns a URL that GETs the object at key until it expires, ttl
	// from now; KindInternal when it cannot sign.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (url string, expires time.Time, err error)
}

// Presigner presigns URLs of the bucket's objects (the S3 adapter).
type Presigner interface {
	// PresignGet returns a GET URL of key valid for ttl, and its expiry.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (url string, expires time.Time, err error)
	// PresignPut returns a PUT URL of key valid for ttl, the upload sending the
	// Content-Type contentType, and its expiry.
	PresignPut(ctx context.Context, key, contentType string, ttl time.Duration) (url string, expires time.Time, err error)
}

// Sender sends one queue message per body (the SQS adapter).
type Sender interface {
	SendAll(ctx context.Context, bodies []string) error
}

// Executions starts state machine executions (*sfn.Client).
type Executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Dispatcher validates course files from S3 uploads and the HTTP API, records jobs,
// starts their executions, and sends the analyze messages as the state machine's
// fan-out task.
type Dispatcher struct {
	Store      DispatchStore
	Objects    Objects
	Queue      Sender
	Executions Executions
	// Cache, when set, is read at fan-out for every exercise (BatchGetItem, 100 keys
	// a request): each message then carries its cache decision (a hit's analysis, or
	// a miss), so the analyze function makes no cache read. Keys are computed with
	// Provider and Model as the analyze function computes them. nil: the analyze
	// function reads the cache itself.
	Cache CacheLookup
	// Links presigns result_url for GET answers over MaxInlineBytes and the upload
	// URLs of POST /courses/{course}/uploads; nil: those answers are 500s.
	Links Presigner
	// MaxInlineBytes bounds GET's response with the result document inlined
	// (default DefaultMaxInlineBytes, at most InvokeResponseLimit).
	MaxInlineBytes int
	// ResultURLTTL is the validity of a result_url (default DefaultResultURLTTL).
	ResultURLTTL time.Duration
	// FanOutSecondsPerExercise is added to the state machine's fan-out wait for every
	// exercise of the job (ExecutionInput.FanOutExtraSeconds); 0 adds nothing.
	FanOutSecondsPerExercise int
	// UploadURLTTL is the validity of an upload URL (default DefaultUploadURLTTL).
	UploadURLTTL time.Duration

	Bucket          string // the bucket S3 events must come from
	StateMachineARN string
	InputPrefix     string // default "input/"
	Provider, Model string // recorded on jobs
	// MaxCostUSD is recorded on every new job as its cost cap (0: none).
	MaxCostUSD float64
	// Pricing prices the jobs' spend in GET answers.
	Pricing Pricing
	Limits  course.Limits
	// ReportInlineBytes is the largest report GET /analyses/{job}/report returns in
	// its body, counted as the JSON-escaped string the Lambda response carries;
	// larger ones are answered with a presigned URL (default DefaultReportInlineBytes).
	ReportInlineBytes int
	// ReportURLTTL is how long a report's presigned URL works (default
	// DefaultReportURLTTL).
	ReportURLTTL time.Duration
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Dispatcher) inputPrefix() string {
	if d.InputPrefix == "" {
		return "input/"
	}
	return d.InputPrefix
}

// Handle routes a raw Lambda event: an S3 notification (returns nil), an API Gateway
// HTTP API v2 request (returns its response) or the fan-out task (returns nil). Any
// other shape is an *InvalidInputError.
func (d *Dispatcher) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
		RequestContext struct {
			HTTP json.RawMessage `json:"http"`
		} `json:"requestContext"`
		Action string `json:"action"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, invalid("cloud.Dispatch", "event is not a JSON object: %w", err)
	}
	switch {
	case len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, invalid("cloud.Dispatch", "decoding SQS event: %w", err)
		}
		return d.Replay(ctx, ev), nil
	case len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:s3":
		var ev S3Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, invalid("cloud.Dispatch", "decoding S3 event: %w", err)
		}
		return nil, d.HandleS3(ctx, ev)
	case len(probe.RequestContext.HTTP) > 0 && string(probe.RequestContext.HTTP) != "null":
		req, err := decodeAPIRequest(raw)
		if err != nil {
			return nil, invalid("cloud.Dispatch", "decoding API request: %w", err)
		}
		return d.HandleAPI(ctx, req), nil
	case probe.Action == "fanout":
		var in FanOutInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, invalid("cloud.Dispatch", "decoding fan-out task: %w", err)
		}
		return nil, d.FanOut(ctx, in)
	}
	return nil, invalid("cloud.Dispatch", "unknown event shape")
}

// DestinationRecord is what Lambda sends to an asynchronous invocation's failure
// destination: the original event in RequestPayload.
type DestinationRecord struct {
	RequestContext struct {
		RequestID string `json:"requestId"`
		Condition string `json:"condition"`
	} `json:"requestContext"`
	RequestPayload json.RawMessage `json:"requestPayload"`
}

// Replay handles the failure destination's queue (the dispatch DLQ) when its event
// source mapping is enabled: every message is an S3 notification whose asynchronous
// dispatch failed every attempt, dispatched again (a job already recorded is a
// no-op). A message that fails again is reported back to the queue; one that is no
// S3 notification is logged and dropped.
func (d *Dispatcher) Replay(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	log := discard(d.Logger)
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		var rec DestinationRecord
		var s3ev S3Event
		if err := json.Unmarshal([]byte(m.Body), &rec); err != nil || json.Unmarshal(rec.RequestPayload, &s3ev) != nil ||
			len(s3ev.Records) == 0 || s3ev.Records[0].EventSource != "aws:s3" {
			log.LogAttrs(ctx, slog.LevelError, "dropping a replay message that is no failed S3 dispatch", slog.String("message_id", m.MessageId))
			continue
		}
		if err := d.HandleS3(ctx, s3ev); err != nil {
			log.LogAttrs(ctx, slog.LevelError, "replayed S3 dispatch failed again", slog.String("message_id", m.MessageId),
				slog.String("error", err.Error()))
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		log.LogAttrs(ctx, slog.LevelInfo, "replayed S3 dispatch", slog.String("message_id", m.MessageId),
			slog.String("failed_request", rec.RequestContext.RequestID))
	}
	return resp
}

// S3Event is the part of an S3 notification dispatch reads. Keys are kept encoded
// (events.S3Event fails to decode a whole event over one malformed key).
type S3Event struct {
	Records []S3Record `json:"Records"`
}

// S3Record is one record of an S3Event.
type S3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
		} `json:"object"`
	} `json:"s3"`
}

// InputKey is an input object key split into its parts.
type InputKey struct {
	Course string        // the {course} path segment, "" when the file is directly under the prefix
	Name   string        // the file name without its extension
	Format course.Format // JSON or JSONL, from the extension
}

// ParseInputKey splits a decoded key `{prefix}{course}/{name}.json|.jsonl`. ok is false
// for keys outside the prefix or with another extension: they are not course files.
func ParseInputKey(key, prefix string) (k InputKey, ok bool) {
	rest, found := strings.CutPrefix(key, prefix)
	if !found || rest == "" {
		return InputKey{}, false
	}
	lower := strings.ToLower(rest)
	switch {
	case strings.HasSuffix(lower, ".jsonl"):
		k.Format, rest = course.JSONL, rest[:len(rest)-len(".jsonl")]
	case strings.HasSuffix(lower, ".json"):
		k.Format, rest = course.JSON, rest[:len(rest)-len(".json")]
	default:
		return InputKey{}, false
	}
	if c, name, nested := strings.Cut(rest, "/"); nested {
		k.Course, rest = c, name
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rest = rest[i+1:]
	}
	k.Name = rest
	return k, true
}

// HandleS3 processes every ObjectCreated record under the input prefix. A record
// whose file is invalid records a rejected job with the problems and starts nothing;
// a valid one records the job with its exercises and starts its execution. A record
// delivered twice maps to the same job: the second is a no-op. The error is non-nil
// only for failures worth retrying the whole event for.
func (d *Dispatcher) HandleS3(ctx context.Context, ev S3Event) error {
	var errs []error
	for _, rec := range ev.Records {
		if err := d.S3Record(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) S3Record(ctx context.Context, rec S3Record) error {
	const op = "cloud.DispatchS3"
	log := discard(d.Logger)
	if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		log.LogAttrs(ctx, slog.LevelInfo, "ignoring S3 event", slog.String("event", rec.EventName))
		return nil
	}
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "ignoring S3 object with a malformed key", slog.String("error", err.Error()))
		return nil
	}
	if d.Bucket != "" && rec.S3.Bucket.Name != d.Bucket {
		log.LogAttrs(ctx, slog.LevelWarn, "ignoring S3 object of another bucket", slog.String("bucket", rec.S3.Bucket.Name))
		return nil
	}
	ik, ok := ParseInputKey(key, d.inputPrefix())
	if !ok {
		log.LogAttrs(ctx, slog.LevelInfo, "ignoring S3 object that is not a course file", slog.String("key", key))
		return nil
	}
	limits := d.limits()
	// The version the event is about: a second upload to the key may already be the
	// newest, and is dispatched by its own event.
	data, err := d.Objects.GetVersion(ctx, key, rec.S3.Object.VersionID, limits.MaxFileBytes)
	if examina.IsNotFound(err) {
		log.LogAttrs(ctx, slog.LevelWarn, "S3 object vanished before dispatch", slog.String("key", key))
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: reading %s: %w", op, key, err)
	}
	opts := course.Options{Limits: limits, Format: ik.Format}
	if ik.Format == course.JSONL {
		opts.Course = examina.Course{Code: ik.Course, Name: ik.Course}
	}
	source := "s3://" + rec.S3.Bucket.Name + "/" + key
	version := rec.S3.Object.VersionID
	if version == "" {
		version = rec.S3.Object.ETag
	}
	cf, perr := course.Decode(bytes.NewReader(data), key, opts)
	code := ik.Course
	if perr == nil {
		code = cf.Course.Code
	}
	id := JobID(code, rec.S3.Bucket.Name+"/"+key+"/"+version)
	if token, ok := uploadToken(ik); ok {
		// An upload URL's job id was given to the caller before the file existed.
		id = UploadJobID(ik.Course, token)
		if perr == nil && !strings.EqualFold(cf.Course.Code, ik.Course) {
			perr = &course.ProblemsError{Source: key, Problems: []course.Problem{{Path: "course.code",
				Msg: "the file's course " + cf.Course.Code + " is not the course " + ik.Course + " of the upload URL",
				Fix: "upload the file through an upload URL of its own course"}}}
		}
	}
	log = log.With(slog.String("job_id", id))
	var pe *course.ProblemsError
	switch {
	case errors.As(perr, &pe):
		job := d.newJob(id, examina.Course{Code: ik.Course, Name: ik.Course}, source)
		job.Status = examina.JobRejected
		job.Reason = "invalid course file"
		job.Problems = pe.Strings()
		created, err := d.Store.CreateJob(ctx, job, nil)
		if err != nil {
			return fmt.Errorf("%s: recording rejected job %s: %w", op, id, err)
		}
		log.LogAttrs(ctx, slog.LevelWarn, "course file rejected", slog.Int("problems", len(job.Problems)), slog.Bool("duplicate", !created))
		return nil
	case perr != nil:
		return fmt.Errorf("%s: %w", op, perr)
	}
	job := d.newJob(id, cf.Course, source)
	job.Total = len(cf.Exercises)
	created, err := d.Store.CreateJob(ctx, job, cf.Exercises)
	if err != nil {
		return fmt.Errorf("%s: recording job %s: %w", op, id, err)
	}
	if !created {
		existing, err := d.Store.GetJob(ctx, id)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if existing.Status == examina.JobRejected {
			return nil
		}
	}
	if err := d.startExecution(ctx, id, cf.Course.Code, job.Total); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "job dispatched", slog.Int("exercises", job.Total), slog.Bool("duplicate", !created))
	return nil
}

// uploadToken returns the token of an upload key {course}/upload-{16 hex}.
func uploadToken(ik InputKey) (string, bool) {
	token, ok := strings.CutPrefix(ik.Name, UploadPrefix)
	if !ok || ik.Course == "" || len(token) != 16 || strings.Trim(token, "0123456789abcdef") != "" {
		return "", false
	}
	return token, true
}

func (d *Dispatcher) limits() course.Limits {
	l := d.Limits
	def := course.DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = def.MaxFileBytes
	}
	return l
}

func (d *Dispatcher) newJob(id string, c examina.Course, source string) examina.Job {
	now := d.now()
	return examina.Job{ID: id, Course: c, Provider: d.Provider, Model: d.Model, PromptVersion: analysis.PromptVersion,
		Status: examina.JobPending, Source: source, CreatedAt: now, UpdatedAt: now, MaxCostUSD: d.MaxCostUSD}
}

// startExecution starts the execution named after the job. Starting it again with the
// same name and input succeeds (ExecutionAlreadyExists included): idempotent.
func (d *Dispatcher) startExecution(ctx context.Context, id, code string, total int) error {
	in := ExecutionInput{JobID: id, Course: code}
	if d.FanOutSecondsPerExercise > 0 {
		extra := min(int64(total)*int64(d.FanOutSecondsPerExercise), MaxFanOutExtraSeconds)
		in.FanOutExtraSeconds = &extra
	}
	input, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = d.Executions.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: &d.StateMachineARN, Name: &id, Input: aws.String(string(input)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("starting execution %s: %w", id, err)
	}
	return nil
}

// FanOut is the state machine's first task: it stores the task token on the job,
// then sends one message per exercise carrying the previous exercise's text. The task
// completes later, when analyze sends SendTaskSuccess. An unknown job, or one that is
// not pending or running, is an *InvalidInputError.
func (d *Dispatcher) FanOut(ctx context.Context, in FanOutInput) error {
	const op = "cloud.FanOut"
	if !ValidJobID(in.JobID) || in.TaskToken == "" {
		return invalid(op, "fan-out task needs a valid job_id and a task_token")
	}
	log := discard(d.Logger).With(slog.String("job_id", in.JobID))
	job, err := d.Store.StartFanOut(ctx, in.JobID, in.TaskToken)
	switch k := examina.KindOf(err); {
	case err == nil:
	case k == examina.KindNotFound || k == examina.KindConflict:
		return &InvalidInputError{Err: err}
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
	exs, err := d.Store.Exercises(ctx, in.JobID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(exs) != job.Total {
		return fmt.Errorf("%s: job %s has %d exercise inputs for %d exercises (expired?)", op, in.JobID, len(exs), job.Total)
	}
	tasks, err := taskList(job, exs)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	hits := d.lookUpCache(ctx, log, job, tasks)
	bodies, err := encodeTasks(tasks)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := d.Queue.SendAll(ctx, bodies); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "fan-out sent", slog.Int("messages", len(bodies)), slog.Int("cache_hits", hits))
	return nil
}

// Tasks returns the message bodies of a job: one per exercise in position order, each
// with the previous exercise's text ("" for the first), without cache decisions.
func Tasks(job examina.Job, exs []examina.Exercise) ([]string, error) {
	tasks, err := taskList(job, exs)
	if err != nil {
		return nil, err
	}
	return encodeTasks(tasks)
}

func taskList(job examina.Job, exs []examina.Exercise) ([]Task, error) {
	cf := examina.CourseFile{Course: job.Course, Exercises: exs}
	tasks := make([]Task, len(exs))
	for i, ex := range exs {
		if ex.Position != i {
			return nil, fmt.Errorf("exercise %d has position %d", i, ex.Position)
		}
		tasks[i] = Task{JobID: job.ID, Course: job.Course, Position: i, Exercise: ex, Previous: cf.Previous(i), Total: len(exs),
			MaxCostUSD: job.MaxCostUSD}
	}
	return tasks, nil
}

// maxCachedBody bounds a message carrying a cached analysis (SQS takes 256 KB); a
// larger one is sent without its cache decision and analyze reads the cache itself.
const maxCachedBody = 200 << 10

func encodeTasks(tasks []Task) ([]string, error) {
	bodies := make([]string, len(tasks))
	for i, t := range tasks {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		if len(b) > maxCachedBody && t.Cached != nil {
			t.CacheChecked, t.Cached = false, nil
			if b, err = json.Marshal(t); err != nil {
				return nil, err
			}
		}
		bodies[i] = string(b)
	}
	return bodies, nil
}

// lookUpCache records in every task the cache decision for its exercise and returns
// the number of hits. A failed lookup leaves the tasks without decisions (the analyze
// function then reads the cache itself): the fan-out never fails for the cache.
func (d *Dispatcher) lookUpCache(ctx context.Context, log *slog.Logger, job examina.Job, tasks []Task) int {
	provider, model := d.Provider, d.Model
	if provider == "" {
		provider, model = job.Provider, job.Model
	}
	if d.Cache == nil || provider == "" || len(tasks) == 0 {
		return 0
	}
	keys := make([]string, len(tasks))
	for i, t := range tasks {
		keys[i] = CacheKey(provider, model, t)
	}
	found, err := d.Cache.CacheGetMany(ctx, keys)
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "cache lookup at fan-out failed: analyze reads the cache", slog.String("error", err.Error()))
		return 0
	}
	hits := 0
	for i := range tasks {
		tasks[i].CacheChecked = true
		if a, ok := found[keys[i]]; ok && a.Status != examina.StatusDegraded {
			tasks[i].Cached = &a
			hits++
		}
	}
	return hits
}
