package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// The spend counters live on the job's META item: committed_nanos (what the cap
// counts: metered spend, the worst case of unmetered calls and the reservations of
// calls in flight), spent_nanos, calls, input_tokens, output_tokens, unmetered_calls,
// unmetered_nanos and refused_calls. Every change is one UpdateItem with ADD, so
// concurrent analyze invocations never lose an update.

// ReserveSpend reserves worst nano-USD for a call of the job: it adds worst to the
// committed spend if that stays at most capNanos afterwards (capNanos <= 0: no cap, the
// reservation always succeeds). When it would not, nothing is reserved, the refusal is
// counted and ok is false. The check and the addition are one conditional update, so
// concurrent reservations can never together pass the cap.
func (s *Store) ReserveSpend(ctx context.Context, jobID string, worst, capNanos int64) (ok bool, err error) {
	const op = "dynamo.ReserveSpend"
	if err := ctx.Err(); err != nil {
		return false, examina.E(op, examina.KindOther, "%w", err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(jobPK(jobID), skMeta),
		UpdateExpression:          aws.String("ADD committed_nanos :w"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":w": num(worst)},
	}
	if capNanos > 0 {
		limit := capNanos - worst
		if limit < 0 {
			return false, s.refuse(ctx, op, jobID)
		}
		in.ConditionExpression = aws.String("attribute_exists(PK) AND (attribute_not_exists(committed_nanos) OR committed_nanos <= :limit)")
		in.ExpressionAttributeValues[":limit"] = num(limit)
	}
	_, err = s.client.UpdateItem(ctx, in)
	if err == nil {
		return true, nil
	}
	if terr := translate(op, err); examina.KindOf(terr) != examina.KindConflict || capNanos <= 0 {
		return false, terr
	}
	return false, s.refuse(ctx, op, jobID)
}

// refuse counts a refused call; a missing job is a NotFound error.
func (s *Store) refuse(ctx context.Context, op, jobID string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(jobPK(jobID), skMeta),
		UpdateExpression:          aws.String("ADD refused_calls :one"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	})
	if terr := translate(op, err); examina.KindOf(terr) == examina.KindConflict {
		return examina.E(op, examina.KindNotFound, "job %s: %w", jobID, examina.ErrNotFound)
	}
	return translate(op, err)
}

// SettleSpend replaces a reservation of reserved nano-USD (0 when none was made) with
// a finished call's charge: metered, its reported tokens at charge nano-USD; unmetered
// (no usage reported), charge is its worst case, counted apart.
func (s *Store) SettleSpend(ctx context.Context, jobID string, reserved, charge int64, in, out int, metered bool) error {
	const op = "dynamo.SettleSpend"
	vals := map[string]types.AttributeValue{
		":delta": num(charge - reserved), ":one": num(1),
		":in": num(int64(in)), ":out": num(int64(out)), ":spent": num(0), ":u": num(0), ":un": num(0),
	}
	if metered {
		vals[":spent"] = num(charge)
	} else {
		vals[":u"], vals[":un"] = num(1), num(charge)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table,
		Key:       key(jobPK(jobID), skMeta),
		UpdateExpression: aws.String("ADD committed_nanos :delta, calls :one, input_tokens :in, output_tokens :out, " +
			"spent_nanos :spent, unmetered_calls :u, unmetered_nanos :un"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: vals,
	})
	return translate(op, err)
}
