package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// batchLimit is the most requests BatchWriteItem accepts in one call.
const batchLimit = 25

// backoff returns the wait before retry n (1-based): 50ms doubling, capped at 2s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, 2*time.Second)
}

func (s *Store) attempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 8
}

// batchWrite writes reqs 25 at a time, sending UnprocessedItems again with backoff
// until they are all written or MaxAttempts calls were made for one chunk.
func (s *Store) batchWrite(ctx context.Context, op string, reqs []types.WriteRequest) error {
	for start := 0; start < len(reqs); start += batchLimit {
		pending := reqs[start:min(start+batchLimit, len(reqs))]
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > s.attempts() {
				return examina.E(op, examina.KindTransient, "%d items still unprocessed after %d attempts", len(pending), s.attempts())
			}
			if attempt > 1 {
				if err := s.Clock.Sleep(ctx, backoff(attempt-1)); err != nil {
					return examina.E(op, examina.KindOther, "%w", err)
				}
			}
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: pending},
			})
			if err != nil {
				return translate(op, err)
			}
			pending = out.UnprocessedItems[s.table]
		}
	}
	return nil
}

func putRequest(item map[string]types.AttributeValue) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}
