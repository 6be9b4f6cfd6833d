// Command echo is a tiny Lambda for lambdarie's tests: it echoes its input,
// reports an environment variable and its deadline, or fails with a typed error.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Echo any    `json:"echo"`
	Env  string `json:"env"`
	Fail string `json:"fail"`
}

type response struct {
	Echo       any    `json:"echo"`
	Env        string `json:"env"`
	HasDeadine bool   `json:"has_deadline"`
}

// RetryableError is returned when the request asks to fail; the Lambda runtime
// reports its type name as the errorType.
type RetryableError struct{ Msg string }

func (e *RetryableError) Error() string { return e.Msg }

func handle(ctx context.Context, req request) (response, error) {
	if req.Fail != "" {
		return response{}, &RetryableError{Msg: req.Fail}
	}
	d, ok := ctx.Deadline()
	return response{Echo: req.Echo, Env: os.Getenv(req.Env), HasDeadine: ok && d.After(time.Now())}, nil
}

func main() { lambda.Start(handle) }
