package dynamo

import (
	"context"
	"errors"

	"github.com/aws/smithy-go"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// translate wraps an SDK error with the domain kind its code means. nil stays nil.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	return examina.E(op, kindOf(err), "%w", err)
}

// kindOf classifies an SDK error by its AWS error code.
func kindOf(err error) examina.Kind {
	var api smithy.APIError
	if !errors.As(err, &api) {
		// No response (connection refused, reset): worth retrying.
		return examina.KindTransient
	}
	switch api.ErrorCode() {
	case "ConditionalCheckFailedException":
		return examina.KindConflict
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
		"InternalServerError", "ServiceUnavailable", "TransactionInProgressException",
		"TransactionConflictException", "LimitExceededException":
		return examina.KindTransient
	case "ResourceNotFoundException":
		return examina.KindInternal // the table is missing: a deployment problem
	case "ValidationException", "ItemCollectionSizeLimitExceededException":
		return examina.KindInvalid
	}
	if api.ErrorFault() == smithy.FaultServer {
		return examina.KindTransient
	}
	return examina.KindOther
}
