package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// OpStats is what an AWSCounter saw for one service operation.
type OpStats struct {
	// Requests counts HTTP attempts, retries included: each is billed.
	Requests int `json:"requests"`
	// Errors counts the attempts that failed (throttling, conditions, conflicts...).
	Errors int `json:"errors,omitempty"`
	// ErrorCodes counts the failed attempts by AWS error code (the Go type of the cause
	// when the error carried none).
	ErrorCodes map[string]int `json:"error_codes,omitempty"`
	// RequestBytes and ResponseBytes sum the bodies' lengths (0 when unknown).
	RequestBytes  int64 `json:"request_bytes"`
	ResponseBytes int64 `json:"response_bytes"`
	// Units sums the billing units of the requests: SQS 64 KB chunks of the request,
	// DynamoDB write units (1 KB of request, doubled for transactions) and read units
	// (4 KB of response), 1 for anything else. See the price model's notes.
	Units int64 `json:"units"`
}

// AWSCounter counts the AWS SDK requests of the clients it is registered with, by
// service and operation, with an SDK middleware placed after the retry middleware, so
// every attempt is counted as AWS bills it. It is safe for concurrent use.
type AWSCounter struct {
	mu  sync.Mutex
	ops map[string]OpStats // "Service.Operation"
}

// NewAWSCounter returns an empty counter.
func NewAWSCounter() *AWSCounter { return &AWSCounter{ops: map[string]OpStats{}} }

// Instrument returns a copy of cfg whose clients report to c.
func (c *AWSCounter) Instrument(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), c.Register)
	return cfg
}

// Register adds the counting middleware to an SDK middleware stack (for
// aws.Config.APIOptions or a client's Options.APIOptions).
func (c *AWSCounter) Register(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("ExaminaBenchCount",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			// The body's length is read before sending: sending consumes the stream.
			var reqBytes, respBytes int64
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				if n, known, lerr := req.StreamLength(); lerr == nil && known {
					reqBytes = n
				} else if req.ContentLength > 0 {
					reqBytes = req.ContentLength
				}
			}
			out, md, err := next.HandleFinalize(ctx, in)
			if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil && resp.ContentLength > 0 {
				respBytes = resp.ContentLength
			}
			c.Add(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), reqBytes, respBytes, errorCode(err))
			return out, md, err
		}), middleware.After)
}

// errorCode is the AWS error code of a failed attempt, the Go type of the innermost
// error for an error without one, "" for success.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return ae.ErrorCode()
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return fmt.Sprintf("%T", err)
}

// Add records one request of service's operation with the given body sizes; failure
// is the error code of a failed request ("" for success).
func (c *AWSCounter) Add(service, operation string, reqBytes, respBytes int64, failure string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := service + "." + operation
	s := c.ops[k]
	s.Requests++
	if failure != "" {
		s.Errors++
		codes := maps.Clone(s.ErrorCodes)
		if codes == nil {
			codes = map[string]int{}
		}
		codes[failure]++
		s.ErrorCodes = codes
	}
	s.RequestBytes += reqBytes
	s.ResponseBytes += respBytes
	s.Units += billingUnits(service, operation, reqBytes, respBytes)
	c.ops[k] = s
}

// Ops returns a copy of the counts by "Service.Operation".
func (c *AWSCounter) Ops() map[string]OpStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

// ByService returns the requests by service ID ("SQS", "DynamoDB", "S3", "SFN").
func (c *AWSCounter) ByService() map[string]int {
	out := map[string]int{}
	for k, s := range c.Ops() {
		out[serviceOf(k)] += s.Requests
	}
	return out
}

// Total returns all requests counted.
func (c *AWSCounter) Total() int {
	n := 0
	for _, s := range c.Ops() {
		n += s.Requests
	}
	return n
}

func serviceOf(key string) string {
	for i := range len(key) {
		if key[i] == '.' {
			return key[:i]
		}
	}
	return key
}

// ceilDiv returns ceil(n/d), at least 1.
func ceilDiv(n, d int64) int64 { return max((n+d-1)/d, 1) }

// billingUnits estimates what one request is billed as, from its body sizes. The
// request and response bodies carry JSON framing around the items, so the DynamoDB
// estimates are upper bounds.
func billingUnits(service, operation string, reqBytes, respBytes int64) int64 {
	switch service {
	case "SQS":
		return ceilDiv(reqBytes, 64<<10)
	case "DynamoDB":
		switch operation {
		case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem":
			return ceilDiv(reqBytes, 1<<10)
		case "TransactWriteItems":
			return 2 * ceilDiv(reqBytes, 1<<10)
		case "GetItem", "Query", "Scan", "BatchGetItem":
			return ceilDiv(respBytes, 4<<10)
		case "TransactGetItems":
			return 2 * ceilDiv(respBytes, 4<<10)
		}
	}
	return 1
}
