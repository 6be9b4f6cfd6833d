// Package dynamo is the DynamoDB adapter: an examina.Store over one table with string
// keys PK and SK, plus the operations only the cloud path needs (the job record with its
// counters, the exercise inputs, the counted result transaction, the signalled flag and
// the merged items).
//
// Item layout (one partition per job):
//
//	JOB#{job}     META        the job: status, counters, task token, result key
//	JOB#{job}     EX#%08d     an exercise input, written by dispatch
//	JOB#{job}     RES#%08d    an exercise result (attribute result, JSON)
//	JOB#{job}     MRG#%08d    a merged exercise (attribute merged, JSON)
//	JOB#{job}     TOP#%04d    a topic (attribute topic, JSON)
//	JOB#{job}     LOOP#{id}   a core loop (attribute loop, JSON)
//	JOB#{job}     OUT#%04d    the result document, gzip'd JSON in chunks
//	CACHE#{key}   CACHE       a cached analysis (attribute analysis, JSON), with TTL
//
// The TTL attribute is expires_at (epoch seconds). Errors carry the domain's kinds: a
// failed condition is KindConflict, throttling and server faults are KindTransient, a
// missing item is KindNotFound.
package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// API is the part of *dynamodb.Client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Default lifetimes of items with a TTL.
const (
	DefaultCacheTTL    = 30 * 24 * time.Hour
	DefaultExerciseTTL = 30 * 24 * time.Hour
)

// Store is the DynamoDB store. Create it with New; its fields may be changed before
// first use. It is safe for concurrent use.
type Store struct {
	client API
	table  string

	// Clock tells the time (TTLs, timestamps) and paces retries of unprocessed batch
	// items and conflicting transactions. Default: the wall clock.
	Clock retry.Clock
	// CacheTTL is how long a cached analysis lives (default 30 days).
	CacheTTL time.Duration
	// ExerciseTTL is how long exercise inputs (EX# items) live (default 30 days).
	ExerciseTTL time.Duration
	// JobTTL, when positive, gives every job item (META, results, merged items,
	// output) an expires_at; zero keeps jobs until deleted.
	JobTTL time.Duration
	// MaxAttempts bounds the attempts of a batch write with unprocessed items and of
	// a transaction cancelled by a conflict (default 8).
	MaxAttempts int
}

// New returns a store over table through client.
func New(client API, table string) *Store {
	return &Store{client: client, table: table, Clock: retry.RealClock{}, CacheTTL: DefaultCacheTTL,
		ExerciseTTL: DefaultExerciseTTL, MaxAttempts: 8}
}

var _ examina.Store = (*Store)(nil)

// Key prefixes and sort keys.
const (
	jobPrefix   = "JOB#"
	cachePrefix = "CACHE#"
	skMeta      = "META"
	skCache     = "CACHE"
	prefEx      = "EX#"
	prefRes     = "RES#"
	prefMerged  = "MRG#"
	prefTopic   = "TOP#"
	prefLoop    = "LOOP#"
	prefOut     = "OUT#"
)

func jobPK(id string) string       { return jobPrefix + id }
func posSK(p string, n int) string { return fmt.Sprintf("%s%08d", p, n) }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": str(pk), "SK": str(sk)}
}

func (s *Store) now() time.Time { return s.Clock.Now() }

func (s *Store) expiry(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return s.now().Add(d).Unix()
}

// course is the course map of a META item.
type course struct {
	Code     string `dynamodbav:"code"`
	Name     string `dynamodbav:"name"`
	Language string `dynamodbav:"language"`
}

// metaItem is the META item of a job.
type metaItem struct {
	PK            string   `dynamodbav:"PK"`
	SK            string   `dynamodbav:"SK"`
	JobID         string   `dynamodbav:"job_id"`
	Course        course   `dynamodbav:"course"`
	Provider      string   `dynamodbav:"provider"`
	Model         string   `dynamodbav:"model"`
	PromptVersion string   `dynamodbav:"prompt_version"`
	Status        string   `dynamodbav:"status"`
	Total         int      `dynamodbav:"total"`
	Done          int      `dynamodbav:"done"`
	Degraded      int      `dynamodbav:"degraded"`
	Signalled     bool     `dynamodbav:"signalled,omitempty"`
	TaskToken     string   `dynamodbav:"task_token,omitempty"`
	Reason        string   `dynamodbav:"reason,omitempty"`
	Problems      []string `dynamodbav:"problems,omitempty"`
	Source        string   `dynamodbav:"source,omitempty"`
	CreatedAt     string   `dynamodbav:"created_at"`
	UpdatedAt     string   `dynamodbav:"updated_at"`
	ResultKey     string   `dynamodbav:"result_key,omitempty"`
	ExpiresAt     int64    `dynamodbav:"expires_at,omitempty"`
	// The cost cap and the spend counters (see ReserveSpend, SettleSpend).
	MaxCostUSD     float64 `dynamodbav:"max_cost_usd,omitempty"`
	Calls          int     `dynamodbav:"calls,omitempty"`
	InputTokens    int     `dynamodbav:"input_tokens,omitempty"`
	OutputTokens   int     `dynamodbav:"output_tokens,omitempty"`
	SpentNanos     int64   `dynamodbav:"spent_nanos,omitempty"`
	Unmetered      int     `dynamodbav:"unmetered_calls,omitempty"`
	UnmeteredNanos int64   `dynamodbav:"unmetered_nanos,omitempty"`
	CommittedNanos int64   `dynamodbav:"committed_nanos,omitempty"`
	Refused        int     `dynamodbav:"refused_calls,omitempty"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func (s *Store) metaFor(j examina.Job) metaItem {
	m := metaItem{
		PK: jobPK(j.ID), SK: skMeta, JobID: j.ID,
		Course:   course{Code: j.Course.Code, Name: j.Course.Name, Language: j.Course.Language},
		Provider: j.Provider, Model: j.Model, PromptVersion: j.PromptVersion, Status: string(j.Status),
		Total: j.Total, Done: j.Done, Degraded: j.Degraded, Reason: j.Reason,
		Problems: slices.Clone(j.Problems), Source: j.Source,
		CreatedAt: formatTime(j.CreatedAt), UpdatedAt: formatTime(j.UpdatedAt),
		ExpiresAt: s.expiry(s.JobTTL), MaxCostUSD: j.MaxCostUSD,
	}
	if sp := j.Spend; sp != nil {
		m.Calls, m.InputTokens, m.OutputTokens, m.SpentNanos = sp.Calls, sp.InputTokens, sp.OutputTokens, sp.MeteredNanos
		m.Unmetered, m.UnmeteredNanos, m.CommittedNanos, m.Refused = sp.Unmetered, sp.UnmeteredNanos, sp.CommittedNanos, sp.Refused
	}
	return m
}

func (m metaItem) job() (examina.Job, error) {
	created, err := parseTime(m.CreatedAt)
	if err != nil {
		return examina.Job{}, fmt.Errorf("created_at: %w", err)
	}
	updated, err := parseTime(m.UpdatedAt)
	if err != nil {
		return examina.Job{}, fmt.Errorf("updated_at: %w", err)
	}
	j := examina.Job{
		ID: m.JobID, Course: examina.Course{Code: m.Course.Code, Name: m.Course.Name, Language: m.Course.Language},
		Provider: m.Provider, Model: m.Model, PromptVersion: m.PromptVersion, Status: examina.JobStatus(m.Status),
		Total: m.Total, Done: m.Done, Degraded: m.Degraded, Reason: m.Reason, Problems: m.Problems,
		Source: m.Source, CreatedAt: created, UpdatedAt: updated, MaxCostUSD: m.MaxCostUSD,
	}
	if m.Calls != 0 || m.Refused != 0 || m.CommittedNanos != 0 {
		j.Spend = &examina.Spend{Calls: m.Calls, InputTokens: m.InputTokens, OutputTokens: m.OutputTokens, MeteredNanos: m.SpentNanos,
			Unmetered: m.Unmetered, UnmeteredNanos: m.UnmeteredNanos, CommittedNanos: m.CommittedNanos, Refused: m.Refused}
	}
	return j, nil
}

func decodeMeta(op string, item map[string]types.AttributeValue) (metaItem, error) {
	var m metaItem
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return metaItem{}, examina.E(op, examina.KindInternal, "decoding job item: %w", err)
	}
	return m, nil
}

// PutJob creates or replaces the job's META item. It replaces the whole item, cloud
// fields (task token, signalled flag, result key) included: the cloud path updates
// jobs with the dedicated operations instead.
func (s *Store) PutJob(ctx context.Context, job examina.Job) error {
	const op = "dynamo.PutJob"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	if job.ID == "" {
		return examina.E(op, examina.KindInvalid, "empty job id")
	}
	item, err := attributevalue.MarshalMap(s.metaFor(job))
	if err != nil {
		return examina.E(op, examina.KindInternal, "encoding job: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item})
	return translate(op, err)
}

// GetJob returns the job, or an error of kind KindNotFound.
func (s *Store) GetJob(ctx context.Context, id string) (examina.Job, error) {
	const op = "dynamo.GetJob"
	m, err := s.getMeta(ctx, op, id)
	if err != nil {
		return examina.Job{}, err
	}
	j, err := m.job()
	if err != nil {
		return examina.Job{}, examina.E(op, examina.KindInternal, "job %s: %w", id, err)
	}
	return j, nil
}

func (s *Store) getMeta(ctx context.Context, op, id string) (metaItem, error) {
	if err := ctx.Err(); err != nil {
		return metaItem{}, examina.E(op, examina.KindOther, "%w", err)
	}
	if id == "" {
		return metaItem{}, examina.E(op, examina.KindInvalid, "empty job id")
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(jobPK(id), skMeta), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return metaItem{}, translate(op, err)
	}
	if len(out.Item) == 0 {
		return metaItem{}, examina.E(op, examina.KindNotFound, "job %s: %w", id, examina.ErrNotFound)
	}
	return decodeMeta(op, out.Item)
}

// ListJobs returns every job, newest first (ties by id). It scans the table: it is
// meant for small tables and tools, not for the request path.
func (s *Store) ListJobs(ctx context.Context) ([]examina.Job, error) {
	const op = "dynamo.ListJobs"
	if err := ctx.Err(); err != nil {
		return nil, examina.E(op, examina.KindOther, "%w", err)
	}
	var jobs []examina.Job
	in := &dynamodb.ScanInput{
		TableName:                 &s.table,
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("SK = :meta AND begins_with(PK, :job)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":meta": str(skMeta), ":job": str(jobPrefix)},
	}
	for {
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, translate(op, err)
		}
		for _, item := range out.Items {
			m, err := decodeMeta(op, item)
			if err != nil {
				return nil, err
			}
			j, err := m.job()
			if err != nil {
				return nil, examina.E(op, examina.KindInternal, "job %s: %w", m.JobID, err)
			}
			jobs = append(jobs, j)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortFunc(jobs, func(a, b examina.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if jobs == nil {
		jobs = []examina.Job{}
	}
	return jobs, nil
}

// resultItem is the attribute holding a JSON value in RES#, MRG#, TOP# and LOOP# items.
const (
	attrResult = "result"
	attrMerged = "merged"
	attrTopic  = "topic"
	attrLoop   = "loop"
)

func (s *Store) jsonItem(pk, sk, attr string, v any) (map[string]types.AttributeValue, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	item := key(pk, sk)
	item[attr] = str(string(data))
	if exp := s.expiry(s.JobTTL); exp > 0 {
		item["expires_at"] = num(exp)
	}
	return item, nil
}

func decodeJSON(item map[string]types.AttributeValue, attr string, v any) error {
	a, ok := item[attr].(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("item %v has no string attribute %q", item["SK"], attr)
	}
	return json.Unmarshal([]byte(a.Value), v)
}

func checkResult(op, jobID string, r examina.ExerciseResult) error {
	if jobID == "" {
		return examina.E(op, examina.KindInvalid, "empty job id")
	}
	if r.Position < 0 || r.Position > 99_999_999 {
		return examina.E(op, examina.KindInvalid, "position %d out of range", r.Position)
	}
	return nil
}

// PutResult stores (or replaces) the result of one exercise, without counting it: the
// cloud path uses CountResult.
func (s *Store) PutResult(ctx context.Context, jobID string, r examina.ExerciseResult) error {
	const op = "dynamo.PutResult"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	if err := checkResult(op, jobID, r); err != nil {
		return err
	}
	item, err := s.jsonItem(jobPK(jobID), posSK(prefRes, r.Position), attrResult, r)
	if err != nil {
		return examina.E(op, examina.KindInternal, "encoding result: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item})
	return translate(op, err)
}

// Results returns the job's results in position order (none: an empty slice).
func (s *Store) Results(ctx context.Context, jobID string) ([]examina.ExerciseResult, error) {
	const op = "dynamo.Results"
	items, err := s.queryPrefix(ctx, op, jobID, prefRes, false)
	if err != nil {
		return nil, err
	}
	rs := make([]examina.ExerciseResult, 0, len(items))
	for _, item := range items {
		var r examina.ExerciseResult
		if err := decodeJSON(item, attrResult, &r); err != nil {
			return nil, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
		}
		rs = append(rs, r)
	}
	// Sort keys are zero-padded, so the query order is the position order; sorting
	// again guards against positions written with a different width.
	slices.SortStableFunc(rs, func(a, b examina.ExerciseResult) int { return cmp.Compare(a.Position, b.Position) })
	return rs, nil
}

// queryPrefix returns every item of the job's partition whose sort key starts with
// prefix, in sort key order, read consistently. keysOnly projects PK and SK.
func (s *Store) queryPrefix(ctx context.Context, op, jobID, prefix string, keysOnly bool) ([]map[string]types.AttributeValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, examina.E(op, examina.KindOther, "%w", err)
	}
	if jobID == "" {
		return nil, examina.E(op, examina.KindInvalid, "empty job id")
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(jobPK(jobID)), ":prefix": str(prefix)},
	}
	if keysOnly {
		in.ProjectionExpression = aws.String("PK, SK")
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, translate(op, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// DeleteResults removes every stored result of the job.
func (s *Store) DeleteResults(ctx context.Context, jobID string) error {
	const op = "dynamo.DeleteResults"
	items, err := s.queryPrefix(ctx, op, jobID, prefRes, true)
	if err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, 0, len(items))
	for _, it := range items {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(stringAttr(it, "PK"), stringAttr(it, "SK"))}})
	}
	return s.batchWrite(ctx, op, reqs)
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if a, ok := item[name].(*types.AttributeValueMemberS); ok {
		return a.Value
	}
	return ""
}

func numberAttr(item map[string]types.AttributeValue, name string) int {
	if a, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.Atoi(a.Value)
		return n
	}
	return 0
}

// CacheGet returns the cached analysis for key; ok is false on a miss or when the
// entry has expired but not yet been removed by the TTL sweeper.
func (s *Store) CacheGet(ctx context.Context, k string) (examina.Analysis, bool, error) {
	const op = "dynamo.CacheGet"
	if err := ctx.Err(); err != nil {
		return examina.Analysis{}, false, examina.E(op, examina.KindOther, "%w", err)
	}
	if k == "" {
		return examina.Analysis{}, false, examina.E(op, examina.KindInvalid, "empty cache key")
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(cachePrefix+k, skCache)})
	if err != nil {
		return examina.Analysis{}, false, translate(op, err)
	}
	if len(out.Item) == 0 {
		return examina.Analysis{}, false, nil
	}
	a, ok, err := s.cacheHit(out.Item)
	if err != nil {
		return examina.Analysis{}, false, examina.E(op, examina.KindInternal, "%w", err)
	}
	return a, ok, nil
}

// CachePut stores an analysis under key for CacheTTL.
func (s *Store) CachePut(ctx context.Context, k string, a examina.Analysis) error {
	const op = "dynamo.CachePut"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	if k == "" {
		return examina.E(op, examina.KindInvalid, "empty cache key")
	}
	item, err := s.cacheItem(k, a)
	if err != nil {
		return examina.E(op, examina.KindInternal, "%w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item})
	return translate(op, err)
}

// cacheItem is the CACHE# item holding a under key k, expiring after CacheTTL.
func (s *Store) cacheItem(k string, a examina.Analysis) (map[string]types.AttributeValue, error) {
	data, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding analysis: %w", err)
	}
	item := key(cachePrefix+k, skCache)
	item["analysis"] = str(string(data))
	ttl := s.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	item["expires_at"] = num(s.expiry(ttl))
	return item, nil
}

// cacheHit decodes a CACHE# item; ok is false when it has expired but not yet been
// removed by the TTL sweeper.
func (s *Store) cacheHit(item map[string]types.AttributeValue) (a examina.Analysis, ok bool, err error) {
	if exp := numberAttr(item, "expires_at"); exp > 0 && int64(exp) <= s.now().Unix() {
		return examina.Analysis{}, false, nil
	}
	if err := decodeJSON(item, "analysis", &a); err != nil {
		return examina.Analysis{}, false, fmt.Errorf("decoding cached analysis: %w", err)
	}
	return a, true, nil
}

// batchGetLimit is the most keys BatchGetItem accepts in one call.
const batchGetLimit = 100

// CacheGetMany returns the cached analyses of keys that are in the cache (and not
// expired), by key, reading 100 keys per BatchGetItem call (duplicates and empty keys
// are skipped) and asking again for UnprocessedKeys with backoff, up to MaxAttempts
// calls per chunk. Misses are absent from the map; so is an entry that cannot be
// decoded (the analysis made instead replaces it).
func (s *Store) CacheGetMany(ctx context.Context, keys []string) (map[string]examina.Analysis, error) {
	const op = "dynamo.CacheGetMany"
	if err := ctx.Err(); err != nil {
		return nil, examina.E(op, examina.KindOther, "%w", err)
	}
	seen := make(map[string]bool, len(keys))
	var unique []string
	for _, k := range keys {
		if k != "" && !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	found := map[string]examina.Analysis{}
	for start := 0; start < len(unique); start += batchGetLimit {
		var pending []map[string]types.AttributeValue
		for _, k := range unique[start:min(start+batchGetLimit, len(unique))] {
			pending = append(pending, key(cachePrefix+k, skCache))
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > s.attempts() {
				return nil, examina.E(op, examina.KindTransient, "%d keys still unprocessed after %d attempts", len(pending), s.attempts())
			}
			if attempt > 1 {
				if err := s.Clock.Sleep(ctx, backoff(attempt-1)); err != nil {
					return nil, examina.E(op, examina.KindOther, "%w", err)
				}
			}
			out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending}},
			})
			if err != nil {
				return nil, translate(op, err)
			}
			for _, item := range out.Responses[s.table] {
				k, ok := strings.CutPrefix(stringAttr(item, "PK"), cachePrefix)
				if !ok || !seen[k] {
					continue
				}
				if a, hit, err := s.cacheHit(item); err == nil && hit {
					found[k] = a
				}
			}
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	return found, nil
}

func attributevalueMeta(m metaItem) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(m)
}
