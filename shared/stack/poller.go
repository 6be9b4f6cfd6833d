package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue is the part of SQS the poller uses.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// FunctionInvoker invokes a function synchronously and returns its payload and
// X-Amz-Function-Error ("" on success).
type FunctionInvoker interface {
	invoke(ctx context.Context, function string, payload []byte) ([]byte, string, error)
}

// Poller is an SQS event source mapping run as Lambda's pollers run it: up to
// MaximumConcurrency invocations at once (ScalingConfig; without it, Lambda's
// default scaling, here capped at DefaultMaximumConcurrency), each with up to
// BatchSize messages. A successful invocation deletes its batch, or, with
// ReportBatchItemFailures, every message but the reported ones; a failed
// invocation (function error, timeout, crash) deletes nothing, so the whole
// batch comes back after the queue's visibility timeout (or the visibility the
// function set). The queue's redrive policy (maxReceiveCount → DLQ) is the
// queue's own, applied by SQS on receive.
type Poller struct {
	Queue          Queue
	Invoker        FunctionInvoker
	QueueURL       string
	QueueArn       string
	FunctionArn    string
	BatchSize      int
	MaxConcurrency int
	ReportFailures bool
	Region         string
	Logger         *slog.Logger
	// WaitTime is the long-poll wait of each receive (seconds, 0..20).
	WaitTime int32
}

// DefaultMaximumConcurrency bounds a mapping without ScalingConfig.
const DefaultMaximumConcurrency = 100

// NewPoller makes the poller of a deployed mapping.
func NewPoller(ctx context.Context, cfg aws.Config, api *awsAPI, m eventSourceMapping, log *slog.Logger) (*Poller, error) {
	if !strings.HasPrefix(m.EventSourceArn, "arn:aws:sqs:") {
		return nil, fmt.Errorf("stack: event source %s: only SQS mappings are emulated", m.EventSourceArn)
	}
	parts := strings.Split(m.EventSourceArn, ":")
	client := sqs.NewFromConfig(cfg)
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return nil, fmt.Errorf("stack: queue of mapping %s: %w", m.UUID, err)
	}
	p := &Poller{
		Queue: client, Invoker: api, QueueURL: aws.ToString(out.QueueUrl), QueueArn: m.EventSourceArn,
		FunctionArn: m.FunctionArn, BatchSize: m.BatchSize, MaxConcurrency: DefaultMaximumConcurrency,
		ReportFailures: slices.Contains(m.FunctionResponseTypes, "ReportBatchItemFailures"),
		Region:         parts[3], Logger: log, WaitTime: 1,
	}
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency > 0 {
		p.MaxConcurrency = m.ScalingConfig.MaximumConcurrency
	}
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	log.Info("sqs poller", slog.String("queue", p.QueueArn), slog.String("function", p.FunctionArn),
		slog.Int("batch_size", p.BatchSize), slog.Int("maximum_concurrency", p.MaxConcurrency), slog.Bool("report_batch_item_failures", p.ReportFailures))
	return p, nil
}

// Run polls until ctx is cancelled, with MaxConcurrency workers.
func (p *Poller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range p.MaxConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if !p.Poll(ctx) {
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
		}()
	}
	wg.Wait()
}

// Poll receives one batch and, when it is not empty, invokes the function with
// it and settles it; it reports whether a batch was received.
func (p *Poller) Poll(ctx context.Context) bool {
	batch := min(p.BatchSize, 10)
	out, err := p.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(p.QueueURL), MaxNumberOfMessages: int32(batch), WaitTimeSeconds: p.WaitTime,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		if ctx.Err() == nil {
			p.Logger.Warn("sqs poller: receive", slog.String("queue", p.QueueArn), slog.String("error", err.Error()))
		}
		return false
	}
	if len(out.Messages) == 0 {
		return false
	}
	event, err := json.Marshal(p.event(out.Messages))
	if err != nil {
		return true
	}
	payload, fnErr, err := p.Invoker.invoke(context.WithoutCancel(ctx), p.FunctionArn, event)
	if err != nil || fnErr != "" {
		p.Logger.Warn("sqs poller: invocation failed; the batch returns after the visibility timeout",
			slog.String("function", p.FunctionArn), slog.Int("messages", len(out.Messages)), slog.String("function_error", fnErr),
			slog.String("payload", truncate(string(payload), 500)), slog.Any("error", err))
		return true
	}
	keep, ok := p.failures(payload, out.Messages)
	if !ok {
		p.Logger.Warn("sqs poller: invalid batch item failures response; the whole batch is retried",
			slog.String("function", p.FunctionArn), slog.String("payload", truncate(string(payload), 500)))
		return true
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if keep[aws.ToString(m.MessageId)] {
			continue
		}
		entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(entries) > 0 {
		if _, err := p.Queue.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries}); err != nil {
			p.Logger.Warn("sqs poller: delete", slog.String("queue", p.QueueArn), slog.String("error", err.Error()))
		}
	}
	return true
}

// failures returns the message ids the function reported as failed. ok is false
// when the response is not a valid batchItemFailures document (Lambda then
// treats the whole batch as failed). Without ReportBatchItemFailures nothing is kept.
func (p *Poller) failures(payload []byte, msgs []sqstypes.Message) (map[string]bool, bool) {
	keep := map[string]bool{}
	if !p.ReportFailures {
		return keep, true
	}
	trimmed := strings.TrimSpace(string(payload))
	if trimmed == "" || trimmed == "null" {
		return keep, true
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, false
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[aws.ToString(m.MessageId)] = true
	}
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || !ids[*f.ItemIdentifier] {
			return nil, false
		}
		keep[*f.ItemIdentifier] = true
	}
	return keep, true
}

type sqsRecord struct {
	MessageID         string            `json:"messageId"`
	ReceiptHandle     string            `json:"receiptHandle"`
	Body              string            `json:"body"`
	Attributes        map[string]string `json:"attributes"`
	MessageAttributes map[string]any    `json:"messageAttributes"`
	MD5OfBody         string            `json:"md5OfBody"`
	EventSource       string            `json:"eventSource"`
	EventSourceARN    string            `json:"eventSourceARN"`
	AWSRegion         string            `json:"awsRegion"`
}

func (p *Poller) event(msgs []sqstypes.Message) map[string]any {
	records := make([]sqsRecord, 0, len(msgs))
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		mattrs := map[string]any{}
		for k, v := range m.MessageAttributes {
			a := map[string]any{"dataType": aws.ToString(v.DataType), "stringListValues": []string{}, "binaryListValues": []string{}}
			if v.StringValue != nil {
				a["stringValue"] = *v.StringValue
			}
			if v.BinaryValue != nil {
				a["binaryValue"] = v.BinaryValue
			}
			mattrs[k] = a
		}
		records = append(records, sqsRecord{
			MessageID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: attrs, MessageAttributes: mattrs, MD5OfBody: aws.ToString(m.MD5OfBody),
			EventSource: "aws:sqs", EventSourceARN: p.QueueArn, AWSRegion: p.Region,
		})
	}
	return map[string]any{"Records": records}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
