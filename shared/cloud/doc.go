// Package cloud holds the services behind the three Lambdas of the AWS deployment:
// the Dispatcher (S3 uploads, the HTTP API and the state machine's fan-out task), the
// Analyze handler (SQS batches of exercises) and the Merger (the ordered merge into
// the result document). They depend only on small interfaces declared here, which the
// DynamoDB, SQS and S3 adapters and the AWS SDK clients satisfy, so every service is
// tested without Lambda, and the functions/* mains only wire them.
//
// Errors that the state machine matches are typed (*MergeRetryableError,
// *InvalidInputError): a Go Lambda reports the error's type name as errorType. Logs are
// JSON (log/slog) and carry the job id, and the position when there is one; they never
// contain exercise texts or API keys.
package cloud
