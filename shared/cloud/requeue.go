package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// Requeuer puts analyze messages back on the queue (*sqs.Client): a deferred
// exercise as a new message delayed until its rate-limit slot (so the wait costs no
// function time and no receive), a transiently failed one by shortening its
// visibility (it comes back in seconds, not after the queue's 900 s).
type Requeuer interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Deferral is the history a deferred message carries: how often and since when the
// exercise was deferred, the provider calls earlier deliveries made, and the
// rate-limit slot booked for it (pipeline.DeferError.Slot).
type Deferral struct {
	Count    int       `json:"count"`
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts"`
	Slot     string    `json:"slot,omitempty"`
}

// maxDelay is SQS's longest DelaySeconds.
const maxDelay = 15 * time.Minute

// deferPlan is what to do with a deferred exercise.
type deferPlan struct {
	Resend bool          // re-send with Delay; false: fail the message (the job's time is up)
	Delay  time.Duration // whole seconds, at most 15 minutes
	Task   Task          // the body to re-send
}

// planDefer decides a deferral at now: re-send while the exercise has been deferred
// for less than maxDefer. The delay is the wait rounded up to whole seconds (SQS's
// unit): the message comes back at most a second after its slot, never before it, so
// the function that receives it calls at once instead of sleeping (billed) for the
// rest. A slot used late stays the fleet's: the next slots are booked after it.
//
// A wait without a slot (a server's Retry-After, an unbooked budget deferral) gets up
// to a tenth more, at most 5 s, by jitter (a number in [0, 1)): the exercises a server
// told to come back at its reset do not all come back in the same second.
func planDefer(now time.Time, task Task, de *pipeline.DeferError, maxDefer time.Duration, jitter float64) deferPlan {
	d := Deferral{Since: now}
	if task.Deferral != nil {
		d = *task.Deferral
	}
	if now.Sub(d.Since) >= maxDefer {
		return deferPlan{}
	}
	d.Count++
	d.Attempts += de.Attempts
	d.Slot = de.Slot
	wait := de.Wait
	if de.Slot == "" {
		wait += time.Duration(jitter * float64(min(wait/10, 5*time.Second)))
	}
	delay := time.Duration(math.Ceil(wait.Seconds())) * time.Second
	task.Deferral = &d
	return deferPlan{Resend: true, Delay: min(max(delay, 0), maxDelay), Task: task}
}

// retryBackoff is the visibility given to a transiently failed message on its
// receive-th receive: 2^receive seconds with full jitter between half and all of it,
// at most 30 s. jitter returns a number in [0, 1).
func retryBackoff(receive int, jitter func() float64) time.Duration {
	base := time.Duration(1<<min(max(receive, 1), 5)) * time.Second
	base = min(base, 30*time.Second)
	d := base/2 + time.Duration(jitter()*float64(base/2))
	return max(d.Round(time.Second), time.Second)
}

// deferTask re-sends a deferred exercise; it reports whether the original message is
// done with (false: it must be failed and redelivered).
func (h *Analyze) deferTask(ctx context.Context, log *slog.Logger, task Task, de *pipeline.DeferError) bool {
	if h.Requeue == nil || h.QueueURL == "" {
		return false
	}
	maxDefer := h.MaxDefer
	if maxDefer <= 0 {
		maxDefer = time.Hour
	}
	p := planDefer(h.now(), task, de, maxDefer, h.jitter())
	if !p.Resend {
		log.LogAttrs(ctx, slog.LevelWarn, "deferred for longer than allowed: failing the message instead",
			slog.Duration("max_defer", maxDefer), slog.String("reason", de.Reason))
		return false
	}
	body, err := json.Marshal(p.Task)
	if err != nil {
		return false
	}
	b := string(body)
	_, err = h.Requeue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &h.QueueURL, MessageBody: &b, DelaySeconds: int32(p.Delay / time.Second)})
	if err != nil {
		log.LogAttrs(ctx, slog.LevelError, "re-sending a deferred exercise failed", slog.String("error", err.Error()))
		return false
	}
	log.LogAttrs(ctx, slog.LevelInfo, "exercise deferred to its rate-limit slot", slog.Duration("delay", p.Delay),
		slog.Int("deferrals", p.Task.Deferral.Count), slog.String("reason", de.Reason))
	return true
}

// backoff shortens a failed message's visibility so it comes back after a short
// jittered backoff instead of the queue's visibility timeout.
func (h *Analyze) backoff(ctx context.Context, log *slog.Logger, rec events.SQSMessage, receive int) {
	if h.Requeue == nil || h.QueueURL == "" || rec.ReceiptHandle == "" {
		return
	}
	d := retryBackoff(receive, h.jitter)
	_, err := h.Requeue.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &h.QueueURL, ReceiptHandle: &rec.ReceiptHandle, VisibilityTimeout: int32(d / time.Second)})
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "shortening the visibility of a failed message failed: it returns after the queue's timeout",
			slog.String("error", err.Error()))
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "failed message returns after a short backoff", slog.Duration("backoff", d), slog.Int("receive", receive))
}

// jitter returns a number in [0, 1) from Jitter or math/rand.
func (h *Analyze) jitter() float64 {
	if h.Jitter != nil {
		return h.Jitter()
	}
	return rand.Float64()
}

func (d *Deferral) String() string {
	return fmt.Sprintf("%d deferral(s) since %s", d.Count, d.Since.Format(time.RFC3339))
}
