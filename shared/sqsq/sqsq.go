// Package sqsq sends messages to an SQS queue with SendMessageBatch: at most ten
// entries (and MaxBatchBytes of bodies) per call, retrying the entries that failed
// with a capped exponential backoff until all are sent.
package sqsq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// API is the part of *sqs.Client the sender uses.
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Limits of SendMessageBatch.
const (
	MaxBatchEntries      = 10
	DefaultMaxBatchBytes = 256 << 10
)

// Sender sends to one queue. Its fields may be changed before first use.
type Sender struct {
	client   API
	queueURL string

	// Clock paces the retries (default: the wall clock).
	Clock retry.Clock
	// MaxAttempts bounds the calls made for one batch (default 8).
	MaxAttempts int
	// MaxBatchBytes bounds the summed body size of one call (default 256 KiB); a single
	// body larger than it is rejected with KindInvalid before anything is sent.
	MaxBatchBytes int
}

// New returns a sender to the queue at queueURL.
func New(client API, queueURL string) *Sender {
	return &Sender{client: client, queueURL: queueURL, Clock: retry.RealClock{}, MaxAttempts: 8, MaxBatchBytes: DefaultMaxBatchBytes}
}

// backoff is the wait before retry n (1-based): 100ms doubling, capped at 5s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// SendAll sends every body as one message, in batches. Entries that fail for a
// reason on the server's side (or whose call failed transiently) are sent again after
// a backoff; an entry the server refuses as the sender's fault fails the whole call
// with KindInvalid. When SendAll returns an error some messages may have been sent:
// consumers must tolerate duplicates (SQS delivers at least once anyway).
func (s *Sender) SendAll(ctx context.Context, bodies []string) error {
	const op = "sqsq.SendAll"
	maxBytes := s.MaxBatchBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBatchBytes
	}
	for i, b := range bodies {
		if len(b) > maxBytes {
			return examina.E(op, examina.KindInvalid, "message %d is %d bytes, over the %d bytes a message may have", i, len(b), maxBytes)
		}
	}
	var batch []types.SendMessageBatchRequestEntry
	size := 0
	for i, b := range bodies {
		if len(batch) == MaxBatchEntries || size+len(b) > maxBytes {
			if err := s.sendBatch(ctx, op, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch = append(batch, types.SendMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(i)), MessageBody: aws.String(b)})
		size += len(b)
	}
	if len(batch) > 0 {
		return s.sendBatch(ctx, op, batch)
	}
	return nil
}

func (s *Sender) sendBatch(ctx context.Context, op string, entries []types.SendMessageBatchRequestEntry) error {
	attempts := s.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	clock := s.Clock
	if clock == nil {
		clock = retry.RealClock{}
	}
	var last error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if attempt > attempts {
				return examina.E(op, examina.KindTransient, "%d messages not sent after %d attempts: %w", len(entries), attempts, last)
			}
			if err := clock.Sleep(ctx, backoff(attempt-1)); err != nil {
				return examina.E(op, examina.KindOther, "%w", err)
			}
		}
		out, err := s.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.queueURL, Entries: entries})
		if err != nil {
			if ctx.Err() != nil {
				return examina.E(op, examina.KindOther, "%w", err)
			}
			if kindOf(err) != examina.KindTransient {
				return examina.E(op, kindOf(err), "%w", err)
			}
			last = err
			continue
		}
		if len(out.Failed) == 0 {
			return nil
		}
		failed := make(map[string]bool, len(out.Failed))
		for _, f := range out.Failed {
			if f.SenderFault {
				return examina.E(op, examina.KindInvalid, "message %s refused: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
			}
			failed[aws.ToString(f.Id)] = true
			last = fmt.Errorf("entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		var again []types.SendMessageBatchRequestEntry
		for _, e := range entries {
			if failed[aws.ToString(e.Id)] {
				again = append(again, e)
			}
		}
		entries = again
	}
}

// kindOf classifies a failed call: throttling, server faults and no response are
// transient.
func kindOf(err error) examina.Kind {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return examina.KindTransient
	}
	switch api.ErrorCode() {
	case "RequestThrottled", "ThrottlingException", "KmsThrottled", "InternalError", "ServiceUnavailable":
		return examina.KindTransient
	case "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
		return examina.KindInternal
	}
	if api.ErrorFault() == smithy.FaultServer {
		return examina.KindTransient
	}
	return examina.KindInvalid
}
