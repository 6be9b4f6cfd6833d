package cloud

import "github.com/examina-dev/examina-serverless/shared/examina"

// MergeRetryableError is a merge failure worth retrying (results not all visible yet,
// throttling). The state machine's Merge state retries on its type name.
type MergeRetryableError struct{ Err error }

func (e *MergeRetryableError) Error() string { return "merge retryable: " + e.Err.Error() }
func (e *MergeRetryableError) Unwrap() error { return e.Err }

// InvalidInputError is an event or task input the function cannot process however
// often it is retried (malformed JSON, unknown job).
type InvalidInputError struct{ Err error }

func (e *InvalidInputError) Error() string { return "invalid input: " + e.Err.Error() }
func (e *InvalidInputError) Unwrap() error { return e.Err }

// invalid builds an *InvalidInputError of kind KindInvalid.
func invalid(op, format string, args ...any) error {
	return &InvalidInputError{Err: examina.E(op, examina.KindInvalid, format, args...)}
}
