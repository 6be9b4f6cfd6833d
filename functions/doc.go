// Package functions holds the three Lambda mains of the AWS deployment, one folder
// each as template.yaml's CodeUri expects: dispatch (S3 uploads, the HTTP API and the
// state machine's fan-out task), analyze (SQS batches of exercises) and merge (the
// result document). The mains only wire shared/cloud from the environment.
//
// This package has no code of its own: its tests build each function's bootstrap for
// linux, as sam build does, run it under the Lambda Runtime Interface Emulator
// (aws-lambda-rie) against a private moto_server, and invoke it with the sample events
// of events/.
package functions
