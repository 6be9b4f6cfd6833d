package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// in another state KindConflict.
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
		UpdateExpression:         aws.String("SET task_token = :token, #status = :running, updated_at = :now"),
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

// RecordResult stores the result of one exercise and counts it on the job in one
// transaction: the put is conditional on the result not existing and the job's done
// counter (and degraded, when the analysis is degraded) is incremented with ADD. A
// redelivered result is not stored or counted again: counted is false and err nil.
// In both cases done and total are the job's counters read back consistently.
// A missing job is KindNotFound.
func (s *Store) RecordResult(ctx context.Context, jobID string, r examina.ExerciseResult) (counted bool, done, total int, err error) {
	const op = "dynamo.RecordResult"
	if err := ctx.Err(); err != nil {
		return false, 0, 0, examina.E(op, examina.KindOther, "%w", err)
	}
	if err := checkResult(op, jobID, r); err != nil {
		return false, 0, 0, err
	}
	item, err := s.jsonItem(jobPK(jobID), posSK(prefRes, r.Position), attrResult, r)
	if err != nil {
		return false, 0, 0, examina.E(op, examina.KindInternal, "encoding result: %w", err)
	}
	update := "ADD done :one SET updated_at = :now"
	if r.Analysis.Status == examina.StatusDegraded {
		update = "ADD done :one, degraded :one SET updated_at = :now"
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{
			TableName: &s.table, Key: key(jobPK(jobID), skMeta),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String("attribute_exists(PK)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":now": str(formatTime(s.now()))},
		}},
	}}
	counted, err = s.transactCounted(ctx, op, jobID, r.Position, in)
	if err != nil {
		return false, 0, 0, err
	}
	m, err := s.getMeta(ctx, op, jobID)
	if err != nil {
		return false, 0, 0, err
	}
	return counted, m.Done, m.Total, nil
}

// transactCounted runs the RecordResult transaction, retrying it when it was cancelled
// by a conflicting transaction or throttling, and tells a redelivery (the put's
// condition failed) from success.
func (s *Store) transactCounted(ctx context.Context, op, jobID string, pos int, in *dynamodb.TransactWriteItemsInput) (bool, error) {
	for attempt := 1; ; attempt++ {
		_, err := s.client.TransactWriteItems(ctx, in)
		if err == nil {
			return true, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return false, translate(op, err)
		}
		codes := make([]string, len(tce.CancellationReasons))
		for i, r := range tce.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
		}
		switch {
		case len(codes) == 2 && codes[1] == "ConditionalCheckFailed":
			return false, examina.E(op, examina.KindNotFound, "job %s: %w", jobID, examina.ErrNotFound)
		case len(codes) == 2 && codes[0] == "ConditionalCheckFailed":
			return false, nil // redelivery: already stored and counted
		case len(codes) == 0:
			// No reasons reported: look at the result item itself.
			out, gerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
				Key: key(jobPK(jobID), posSK(prefRes, pos)), ConsistentRead: aws.Bool(true)})
			if gerr != nil {
				return false, translate(op, gerr)
			}
			if len(out.Item) > 0 {
				return false, nil
			}
		}
		if attempt >= s.attempts() {
			return false, examina.E(op, examina.KindTransient, "transaction cancelled %d times (%v): %w", attempt, codes, err)
		}
		if err := s.Clock.Sleep(ctx, backoff(attempt)); err != nil {
			return false, examina.E(op, examina.KindOther, "%w", err)
		}
	}
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
		if err := add(posSK(prefMerged, m.Position), attrMerged, m); err != nil {
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
