package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

const attrExercise = "exercise"

// CreateJob records a new job: first its exercise inputs (EX# items, which expire after
// ExerciseTTL), then its META item, conditional on the job not existing, so a job is
// only visible once complete. When the job already exists (a duplicate event) it writes
// nothing new and returns created == false and a nil error. A rejected job is created
// with no exercises.
func (s *Store) CreateJob(ctx context.Context, job examina.Job, exercises []examina.Exercise) (created bool, err error) {
	const op = "dynamo.CreateJob"
	if err := ctx.Err(); err != nil {
		return false, examina.E(op, examina.KindOther, "%w", err)
	}
	if job.ID == "" {
		return false, examina.E(op, examina.KindInvalid, "empty job id")
	}
	reqs := make([]types.WriteRequest, 0, len(exercises))
	exp := s.expiry(s.ExerciseTTL)
	for _, ex := range exercises {
		if ex.Position < 0 || ex.Position > 99_999_999 {
			return false, examina.E(op, examina.KindInvalid, "position %d out of range", ex.Position)
		}
		data, err := json.Marshal(ex)
		if err != nil {
			return false, examina.E(op, examina.KindInternal, "encoding exercise: %w", err)
		}
		item := key(jobPK(job.ID), posSK(prefEx, ex.Position))
		item[attrExercise] = str(string(data))
		if exp > 0 {
			item["expires_at"] = num(exp)
		}
		reqs = append(reqs, putRequest(item))
	}
	if err := s.batchWrite(ctx, op, reqs); err != nil {
		return false, err
	}
	item, err := attributevalueMeta(s.metaFor(job))
	if err != nil {
		return false, examina.E(op, examina.KindInternal, "encoding job: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		if terr := translate(op, err); examina.KindOf(terr) == examina.KindConflict {
			return false, nil
		}
		return false, translate(op, err)
	}
	return true, nil
}

// Exercises returns the job's exercise inputs in position order.
func (s *Store) Exercises(ctx context.Context, jobID string) ([]examina.Exercise, error) {
	const op = "dynamo.Exercises"
	items, err := s.queryPrefix(ctx, op, jobID, prefEx, false)
	if err != nil {
		return nil, err
	}
	out := make([]examina.Exercise, 0, len(items))
	for _, it := range items {
		var ex examina.Exercise
		if err := decodeJSON(it, attrExercise, &ex); err != nil {
			return nil, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
		}
		out = append(out, ex)
	}
	return out, nil
}

// StartFanOut stores the state machine's task token on a pending or running job and
// marks it running; it returns the updated job. A missing job is KindNotFound, a job
// in another state KindConflict. It clears the signalled flag: when the state machine
// retries the fan-out task, a claim won for the previous token must not stop the new
// token from being signalled (the resent messages are redeliveries, and the first of
// them to see done == total claims again).
func (s *Store) StartFanOut(ctx context.Context, jobID, taskToken string) (examina.Job, error) {
	const op = "dynamo.StartFanOut"
	if err := ctx.Err(); err != nil {
		return examina.Job{}, examina.E(op, examina.KindOther, "%w", err)
	}
	if jobID == "" || taskToken == "" {
		return examina.Job{}, examina.E(op, examina.KindInvalid, "empty job id or task token")
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(jobPK(jobID), skMeta),
		UpdateExpression:         aws.String("SET task_token = :token, #status = :running, updated_at = :now REMOVE signalled"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #status IN (:pending, :running)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":token": str(taskToken), ":running": str(string(examina.JobRunning)),
			":pending": str(string(examina.JobPending)), ":now": str(formatTime(s.now())),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		terr := translate(op, err)
		if examina.KindOf(terr) != examina.KindConflict {
			return examina.Job{}, terr
		}
		j, gerr := s.GetJob(ctx, jobID)
		if gerr != nil {
			return examina.Job{}, gerr
		}
		return examina.Job{}, examina.E(op, examina.KindConflict, "job %s is %s, not pending or running", jobID, j.Status)
	}
	m, err := decodeMeta(op, out.Attributes)
	if err != nil {
		return examina.Job{}, err
	}
	j, err := m.job()
	if err != nil {
		return examina.Job{}, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
	}
	return j, nil
}

// RecordResult stores the result of one exercise and counts it on the job, without
// knowing the job's total: CountResult with total 0 and no cache entry (one
// transaction, then a consistent read of the counters). A redelivered result is not
// stored or counted again: counted is false and err nil. done and total are the job's
// counters read back. A missing job is KindNotFound.
func (s *Store) RecordResult(ctx context.Context, jobID string, r examina.ExerciseResult) (counted bool, done, total int, err error) {
	return s.CountResult(ctx, jobID, r, 0, "", nil)
}

// Conditions on the META update of the counting transactions.
const (
	condJobExists = "attribute_exists(PK)"
	condNotLast   = "attribute_exists(PK) AND #total = :total AND done < :last" // T1: not the job's last result
	condLast      = "attribute_exists(PK) AND #total = :total AND done = :last" // T2: the job's last result
)

// CountResult stores the result of one exercise and counts it on the job, exactly once
// however often it is called for the same position. counted is false when the result
// was already recorded (a redelivery: nothing is written). done and jobTotal are the
// job's counters afterwards, except that done is -1 when they were not read: the
// common case, a result counted that is not the job's last. done == jobTotal means
// every result is in (whoever wins ClaimSignal signals). A missing job is KindNotFound.
//
// total is the job's number of exercises as the analyze message carries it; with it
// the common case costs one TransactWriteItems (T1) and no read: the result (Put RES#,
// conditional on attribute_not_exists(PK)), the counter (Update META ADD done :one,
// and degraded when the analysis is degraded, conditional on the job's total being
// total and done < total-1) and,
// when cacheKey and cache are both set, the cache entry (the item CachePut writes).
// The cancellation reasons tell the other cases apart: the put's condition failed →
// a redelivery, and the counters are read consistently (so the redelivery of a job's
// last result can finish signalling after a crash); the counter's condition failed →
// this result may complete the job, and the same items are sent with done = total-1
// instead (T2): success means this call counted the job's last result. If T2's
// counter condition fails too, the job is missing or its counters disagree with
// total, and the result is counted as with total 0: with the condition
// attribute_exists(PK) alone, then a consistent read of the counters. Transactions
// cancelled by a conflict or throttling are retried with backoff, up to MaxAttempts;
// a cache entry refused on its own is dropped, never the count.
func (s *Store) CountResult(ctx context.Context, jobID string, r examina.ExerciseResult, total int, cacheKey string, cache *examina.Analysis) (counted bool, done, jobTotal int, err error) {
	const op = "dynamo.CountResult"
	if err := ctx.Err(); err != nil {
		return false, 0, 0, examina.E(op, examina.KindOther, "%w", err)
	}
	if err := checkResult(op, jobID, r); err != nil {
		return false, 0, 0, err
	}
	if total < 0 {
		return false, 0, 0, examina.E(op, examina.KindInvalid, "negative total %d", total)
	}
	t, err := s.newCountTx(jobID, r, total, cacheKey, cache)
	if err != nil {
		return false, 0, 0, examina.E(op, examina.KindInternal, "%w", err)
	}
	if total > 0 {
		conds := []string{condNotLast, condLast}
		if total == 1 {
			conds = conds[1:] // the only result is the last
		}
		for _, cond := range conds {
			switch out, err := s.transactCounted(ctx, op, t, cond); {
			case err != nil:
				return false, 0, 0, err
			case out == txCommitted && cond == condNotLast:
				return true, -1, total, nil
			case out == txCommitted:
				return true, total, total, nil
			case out == txRedelivered:
				return s.readBack(ctx, op, jobID, false)
			}
		}
		// Neither condition held: the job is missing, or the message's total is not
		// the job's. Only the job's own counters can decide.
		if _, err := s.getMeta(ctx, op, jobID); err != nil {
			return false, 0, 0, err
		}
	}
	switch out, err := s.transactCounted(ctx, op, t, condJobExists); {
	case err != nil:
		return false, 0, 0, err
	case out == txMetaFailed:
		return false, 0, 0, examina.E(op, examina.KindNotFound, "job %s: %w", jobID, examina.ErrNotFound)
	default:
		return s.readBack(ctx, op, jobID, out == txCommitted)
	}
}

// readBack reads the job's counters consistently after a write or a redelivery.
func (s *Store) readBack(ctx context.Context, op, jobID string, counted bool) (bool, int, int, error) {
	m, err := s.getMeta(ctx, op, jobID)
	if err != nil {
		return false, 0, 0, err
	}
	return counted, m.Done, m.Total, nil
}

// countTx holds the items of a counting transaction; the META condition varies.
type countTx struct {
	jobID  string
	pos    int
	put    types.Put // RES#, conditional
	update string    // META update expression
	values map[string]types.AttributeValue
	cache  *types.Put // CACHE#, unconditional; nil for none
}

func (s *Store) newCountTx(jobID string, r examina.ExerciseResult, total int, cacheKey string, cache *examina.Analysis) (*countTx, error) {
	item, err := s.jsonItem(jobPK(jobID), posSK(prefRes, r.Position), attrResult, r)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	t := &countTx{jobID: jobID, pos: r.Position,
		put:    types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")},
		update: "ADD done :one SET updated_at = :now",
		values: map[string]types.AttributeValue{":one": num(1), ":now": str(formatTime(s.now()))},
	}
	if r.Analysis.Status == examina.StatusDegraded {
		t.update = "ADD done :one, degraded :one SET updated_at = :now"
	}
	if total > 0 {
		t.values[":last"] = num(int64(total - 1))
		t.values[":total"] = num(int64(total))
	}
	if cacheKey != "" && cache != nil {
		item, err := s.cacheItem(cacheKey, *cache)
		if err != nil {
			return nil, err
		}
		t.cache = &types.Put{TableName: &s.table, Item: item}
	}
	return t, nil
}

// input returns the transaction with the META condition cond.
func (t *countTx) input(table string, cond string) *dynamodb.TransactWriteItemsInput {
	values := t.values
	var names map[string]string
	if cond == condJobExists {
		values = maps.Clone(values)
		delete(values, ":last") // DynamoDB rejects unused expression values
		delete(values, ":total")
	} else {
		names = map[string]string{"#total": "total"}
	}
	items := []types.TransactWriteItem{
		{Put: &t.put},
		{Update: &types.Update{
			TableName: &table, Key: key(jobPK(t.jobID), skMeta),
			UpdateExpression: aws.String(t.update), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		}},
	}
	if t.cache != nil {
		items = append(items, types.TransactWriteItem{Put: t.cache})
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: items}
}

// Outcomes of a counting transaction.
type txOutcome int

const (
	txCommitted   txOutcome = iota // stored and counted
	txRedelivered                  // the result was already stored: nothing written
	txMetaFailed                   // the META condition failed: nothing written
)

// transactCounted runs a counting transaction with the META condition cond, retrying
// it when it was cancelled by a conflicting transaction or throttling, and tells a
// redelivery (the put's condition failed) and a failed META condition from success.
// A cache entry that alone makes the transaction fail is dropped.
func (s *Store) transactCounted(ctx context.Context, op string, t *countTx, cond string) (txOutcome, error) {
	for attempt := 1; ; attempt++ {
		_, err := s.client.TransactWriteItems(ctx, t.input(s.table, cond))
		if err == nil {
			return txCommitted, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return 0, translate(op, err)
		}
		codes := make([]string, len(tce.CancellationReasons))
		for i, r := range tce.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
		}
		switch {
		case len(codes) >= 2 && codes[0] == "ConditionalCheckFailed":
			// Checked first: a redelivery of a job's last result fails both conditions.
			return txRedelivered, nil
		case len(codes) >= 2 && codes[1] == "ConditionalCheckFailed":
			return txMetaFailed, nil
		case len(codes) == 3 && !retriedCode(codes[2]) && codes[2] != "None":
			// The cache entry alone was refused: count without it.
			t.cache = nil
			continue
		case len(codes) == 0:
			// No reasons reported: look at the result item itself.
			out, gerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
				Key: key(jobPK(t.jobID), posSK(prefRes, t.pos)), ConsistentRead: aws.Bool(true)})
			if gerr != nil {
				return 0, translate(op, gerr)
			}
			if len(out.Item) > 0 {
				return txRedelivered, nil
			}
		}
		if attempt >= s.attempts() {
			return 0, examina.E(op, examina.KindTransient, "transaction cancelled %d times (%v): %w", attempt, codes, err)
		}
		if err := s.Clock.Sleep(ctx, backoff(attempt)); err != nil {
			return 0, examina.E(op, examina.KindOther, "%w", err)
		}
	}
}

// retriedCode reports whether a cancellation reason is worth sending the same
// transaction again for.
func retriedCode(code string) bool {
	switch code {
	case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
		return true
	}
	return false
}

// ClaimSignal sets the job's signalled flag if the job is complete (done >= total) and
// the flag is not set yet. The one caller that wins gets won == true and the task token
// stored by StartFanOut; everyone else gets won == false and a nil error.
func (s *Store) ClaimSignal(ctx context.Context, jobID string) (taskToken string, won bool, err error) {
	const op = "dynamo.ClaimSignal"
	if err := ctx.Err(); err != nil {
		return "", false, examina.E(op, examina.KindOther, "%w", err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(jobPK(jobID), skMeta),
		UpdateExpression:         aws.String("SET signalled = :true, updated_at = :now"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND attribute_not_exists(signalled) AND done >= #total"),
		ExpressionAttributeNames: map[string]string{"#total": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":true": &types.AttributeValueMemberBOOL{Value: true}, ":now": str(formatTime(s.now())),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		terr := translate(op, err)
		if examina.KindOf(terr) == examina.KindConflict {
			return "", false, nil
		}
		return "", false, terr
	}
	return stringAttr(out.Attributes, "task_token"), true, nil
}

// ReleaseSignal clears the signalled flag, so that a later attempt can signal again
// (used when SendTaskSuccess failed after ClaimSignal won).
func (s *Store) ReleaseSignal(ctx context.Context, jobID string) error {
	const op = "dynamo.ReleaseSignal"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(jobPK(jobID), skMeta),
		UpdateExpression:    aws.String("REMOVE signalled"),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	return translate(op, err)
}

// PutMerged writes the merged exercises (MRG#), topics (TOP#) and core loops (LOOP#)
// of a result document, and removes any such item a previous merge of the same job
// wrote that this one does not. Writes go through BatchWriteItem, retrying
// UnprocessedItems.
// MaxMergedJSONBytes bounds the JSON a MRG# item keeps: a merged group joins its
// exercises' texts without a limit, and DynamoDB rejects an item over 400 KB. A group
// whose JSON is longer has its text cut at a character boundary until it fits, and the
// item is marked text_truncated; the result document in S3 keeps the whole text.
const MaxMergedJSONBytes = 350_000

// capMergedText returns m with its text cut so its JSON fits MaxMergedJSONBytes.
func capMergedText(m examina.MergedExercise) examina.MergedExercise {
	for {
		data, err := json.Marshal(m)
		over := len(data) - MaxMergedJSONBytes
		if err != nil || over <= 0 || m.Text == "" {
			return m
		}
		// Each byte cut removes at least one byte of JSON.
		cut := max(len(m.Text)-over, 0)
		for cut > 0 && !utf8.RuneStart(m.Text[cut]) {
			cut--
		}
		m.Text, m.TextTruncated = m.Text[:cut], true
	}
}

func (s *Store) PutMerged(ctx context.Context, res examina.Result) error {
	const op = "dynamo.PutMerged"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	if res.JobID == "" {
		return examina.E(op, examina.KindInvalid, "empty job id")
	}
	pk := jobPK(res.JobID)
	var reqs []types.WriteRequest
	keep := map[string]bool{}
	add := func(sk, attr string, v any) error {
		item, err := s.jsonItem(pk, sk, attr, v)
		if err != nil {
			return examina.E(op, examina.KindInternal, "encoding %s: %w", sk, err)
		}
		if keep[sk] {
			return examina.E(op, examina.KindInvalid, "duplicate item %s in the result document", sk)
		}
		keep[sk] = true
		reqs = append(reqs, putRequest(item))
		return nil
	}
	for _, m := range res.MergedExercises {
		if m.Position < 0 || m.Position > 99_999_999 {
			return examina.E(op, examina.KindInvalid, "merged position %d out of range", m.Position)
		}
		if err := add(posSK(prefMerged, m.Position), attrMerged, capMergedText(m)); err != nil {
			return err
		}
	}
	for i, t := range res.Topics {
		if err := add(fmt.Sprintf("%s%04d", prefTopic, i), attrTopic, t); err != nil {
			return err
		}
	}
	for _, l := range res.CoreLoops {
		if err := add(prefLoop+l.ID, attrLoop, l); err != nil {
			return err
		}
	}
	for _, p := range []string{prefMerged, prefTopic, prefLoop} {
		old, err := s.queryPrefix(ctx, op, res.JobID, p, true)
		if err != nil {
			return err
		}
		for _, it := range old {
			if sk := stringAttr(it, "SK"); !keep[sk] {
				reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, sk)}})
			}
		}
	}
	return s.batchWrite(ctx, op, reqs)
}

// Merged returns the merged exercises (position order), topics (stored order) and core
// loops (id order) written by PutMerged.
func (s *Store) Merged(ctx context.Context, jobID string) ([]examina.MergedExercise, []examina.Topic, []examina.CoreLoop, error) {
	const op = "dynamo.Merged"
	var merged []examina.MergedExercise
	var topics []examina.Topic
	var loops []examina.CoreLoop
	for _, p := range []struct {
		prefix, attr string
		add          func(map[string]types.AttributeValue, string) error
	}{
		{prefMerged, attrMerged, func(it map[string]types.AttributeValue, a string) error {
			var v examina.MergedExercise
			err := decodeJSON(it, a, &v)
			merged = append(merged, v)
			return err
		}},
		{prefTopic, attrTopic, func(it map[string]types.AttributeValue, a string) error {
			var v examina.Topic
			err := decodeJSON(it, a, &v)
			topics = append(topics, v)
			return err
		}},
		{prefLoop, attrLoop, func(it map[string]types.AttributeValue, a string) error {
			var v examina.CoreLoop
			err := decodeJSON(it, a, &v)
			loops = append(loops, v)
			return err
		}},
	} {
		items, err := s.queryPrefix(ctx, op, jobID, p.prefix, false)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, it := range items {
			if err := p.add(it, p.attr); err != nil {
				return nil, nil, nil, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
			}
		}
	}
	return merged, topics, loops, nil
}

// CompleteJob marks the job completed and records where its result document is, in one
// UpdateItem. A missing job is KindNotFound.
func (s *Store) CompleteJob(ctx context.Context, jobID, resultKey string) error {
	const op = "dynamo.CompleteJob"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(jobPK(jobID), skMeta),
		UpdateExpression:         aws.String("SET #status = :completed, result_key = :key, updated_at = :now REMOVE reason"),
		ConditionExpression:      aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed": str(string(examina.JobCompleted)), ":key": str(resultKey), ":now": str(formatTime(s.now())),
		},
	})
	if err != nil {
		if terr := translate(op, err); examina.KindOf(terr) == examina.KindConflict {
			return examina.E(op, examina.KindNotFound, "job %s: %w", jobID, examina.ErrNotFound)
		}
		return translate(op, err)
	}
	return nil
}

// ResultKey returns the S3 key of the job's result document recorded by CompleteJob,
// "" while the job is not completed.
func (s *Store) ResultKey(ctx context.Context, jobID string) (string, error) {
	m, err := s.getMeta(ctx, "dynamo.ResultKey", jobID)
	if err != nil {
		return "", err
	}
	return m.ResultKey, nil
}
